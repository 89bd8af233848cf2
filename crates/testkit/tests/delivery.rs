//! The webhook delivery engine seen from outside: real receivers that fail, hang,
//! go away and come back; the console's recent errors, event history, health,
//! alerts and replay; time moved by hand for the long timers.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_testkit::*;

async fn get(server: &TestServer, path: &str) -> Value {
    server.console(Method::GET, path, json!({})).await
}

/// Waits until the node has recorded failed attempts carrying `events` events in
/// all: the receiver has its answer before the node records it, and a clock moved
/// in between would date the failure (and its retry) after the move.
async fn failures_recorded(server: &TestServer, app: &str, events: u64) -> Vec<Value> {
    eventually("the failed attempts recorded", || async {
        let errors = get(server, &format!("/apps/{app}/webhook/errors")).await;
        let attempts = errors["data"].as_array().cloned().unwrap_or_default();
        let recorded: u64 = attempts.iter().filter_map(|a| a["events"].as_u64()).sum();
        (recorded >= events).then_some(attempts)
    })
    .await
}

/// The receiver's POSTs whose first event has this text.
fn posts_of(bot: &Bot, text: &str) -> Vec<Received> {
    bot.receiver.posts().into_iter().filter(|p| p.json["entry"][0]["messaging"][0]["message"]["text"] == text).collect()
}

#[tokio::test]
async fn a_failing_receiver_shows_in_recent_errors_and_gets_the_same_bytes_when_it_recovers() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.fail_with(500);
    ann.send("shop", "hello").await;
    eventually("three failed attempts", || {
        let failed = posts_of(&bot, "hello").iter().filter(|p| p.answered == 500).count();
        async move { (failed >= 3).then_some(()) }
    })
    .await;
    bot.receiver.fail_with(0);
    bot.receiver.wait_for("the delivery", |e| e["message"]["text"] == "hello").await;
    // The receiver has its answer before the node records the delivery.
    let app = &bot.app.id;
    let delivered_path = format!("/apps/{app}/webhook/events?state=delivered");
    let delivered = eventually("the delivery recorded", || {
        let (server, path) = (&server, &delivered_path);
        async move {
            let delivered = get(server, path).await;
            delivered["data"][0]["id"].is_i64().then_some(delivered)
        }
    })
    .await;
    let bodies: Vec<Vec<u8>> = posts_of(&bot, "hello").into_iter().map(|p| p.body).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every attempt carries the same bytes");

    let errors = get(&server, &format!("/apps/{app}/webhook/errors")).await;
    let errors = errors["data"].as_array().unwrap();
    assert!(errors.len() >= 3, "{errors:?}");
    let latest = &errors[0];
    assert_eq!((&latest["kind"], &latest["status"], &latest["url"]), (&json!("http_status"), &json!(500), &json!(bot.receiver.url)));
    assert_eq!((&latest["response_excerpt"], &latest["events"], &latest["error"]), (&json!(FAILURE_BODY), &json!(1), &json!("HTTP 500")));
    assert!(errors.windows(2).all(|w| w[0]["time"].as_i64() >= w[1]["time"].as_i64()), "newest first");

    let event = delivered["data"][0]["id"].as_i64().unwrap();
    let history = get(&server, &format!("/apps/{app}/webhook/events/{event}")).await;
    assert_eq!(history["state"], "delivered");
    assert_eq!(history["attempts"].as_array().unwrap().len() as u64, history["failures"].as_u64().unwrap());
    assert!(history["failures"].as_u64().unwrap() >= 3);

    let health = get(&server, &format!("/apps/{app}/webhook")).await;
    assert_eq!((&health["pending"], &health["failing_since"], &health["last_error"]), (&json!(0), &Value::Null, &json!("HTTP 500")));
    assert_eq!(health["callback_url"], bot.receiver.url.as_str());
    assert!(health["last_success_at"].as_i64().unwrap() >= health["last_error_at"].as_i64().unwrap());

    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_webhook_failures_total{kind=\"http_status\"}"), "{metrics}");
    assert!(metrics.contains("switchboard_webhook_event_delay_seconds_count"), "{metrics}");

    // Only the app's administrators and developers (and the operator) see this.
    let eve = server.sign_in(&server.person("eve").await).await;
    let (status, answer) = server.console_as(&eve.token, Method::GET, &format!("/apps/{app}/webhook/errors"), json!({})).await;
    assert_eq!((status.as_u16(), &answer["error"]["code"]), (403, &json!(200)));
    let (status, answer) = server.console_as(&server.operator, Method::GET, &format!("/apps/{app}/webhook/events?state=lost"), json!({})).await;
    assert_eq!((status.as_u16(), &answer["error"]["code"]), (400, &json!(100)));
}

#[tokio::test]
async fn a_receiver_that_hangs_past_the_timeout_fails_and_is_retried() {
    let server = TestServer::start_with(|s| s.webhooks.timeout_secs = 1).await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.hold(true);
    ann.send("shop", "are you there").await;
    let errors = eventually("a timeout in recent errors", || async {
        let errors = get(&server, &format!("/apps/{}/webhook/errors", bot.app.id)).await;
        (errors["data"][0]["kind"] == "timeout").then_some(errors)
    })
    .await;
    assert_eq!(errors["data"][0]["status"], Value::Null);
    assert!(errors["data"][0]["latency_ms"].as_i64().unwrap() >= 1_000);
    bot.receiver.hold(false);
    bot.receiver.wait_for("the retried event", |e| e["message"]["text"] == "are you there").await;
}

#[tokio::test]
async fn a_receiver_that_goes_away_gets_everything_in_order_when_it_comes_back() {
    let server = TestServer::start().await;
    let admin = server.person("admin").await;
    let page = server.page(&admin, "shop").await;
    let app = server.app("shop bot").await;
    let page_token = server.grant(&page, &app, &admin).await;
    let receiver = WebhookReceiver::start(&app.secret).await;
    // The bot's address goes through a proxy the test can cut.
    let target = receiver.url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let proxy = TcpProxy::start(target).await;
    let mut via_proxy = receiver.clone();
    via_proxy.url = format!("http://127.0.0.1:{}/webhook", proxy.port);
    server.subscribe(&app, &via_proxy, "messages").await;
    server.install(&page_token, &page, "messages").await;

    let ann = server.sign_in(&server.person("ann").await).await;
    proxy.set_open(false);
    for n in 0..5 {
        ann.send("shop", &format!("while away {n}")).await;
    }
    eventually("failed attempts while the receiver is away", || async {
        let errors = get(&server, &format!("/apps/{}/webhook/errors", app.id)).await;
        (errors["data"].as_array().unwrap().len() >= 2).then_some(())
    })
    .await;
    assert!(receiver.acknowledged_events().is_empty());
    proxy.set_open(true);
    receiver.wait_for("the last message", |e| e["message"]["text"] == "while away 4").await;
    let texts: Vec<Value> = receiver.acknowledged_events().into_iter().map(|e| e["message"]["text"].clone()).collect();
    assert_eq!(texts, (0..5).map(|n| json!(format!("while away {n}"))).collect::<Vec<_>>(), "in order, once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_at_once_keep_their_order_and_share_batched_posts() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |s| s.webhooks.batch_cap = 5).await;
    let bot = server.bot("shop", "messages").await;
    let mut persons = Vec::new();
    for n in 0..8 {
        persons.push(server.sign_in(&server.person(&format!("person{n}")).await).await);
    }
    // Every thread's first event fails and waits for its retry (the clock stands
    // still), while the rest of each thread queues up behind it.
    bot.receiver.fail_with(503);
    let senders: Vec<_> = persons
        .into_iter()
        .enumerate()
        .map(|(p, person)| {
            tokio::spawn(async move {
                for n in 0..12 {
                    person.send("shop", &format!("{p}:{n}")).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    failures_recorded(&server, &bot.app.id, 8).await;
    // Retries fall due together: they share POSTs, and each thread still goes in order.
    bot.receiver.fail_with(0);
    clock.advance(Duration::from_secs(1));
    server.platform().outbox_wake().notify_one();
    eventually("all 96 events", || {
        let count = bot.receiver.acknowledged_events().len();
        async move { (count >= 96).then_some(()) }
    })
    .await;

    let events = bot.receiver.acknowledged_events();
    assert_eq!(events.len(), 96, "each event acknowledged once");
    for p in 0..8 {
        let thread: Vec<String> = events
            .iter()
            .filter_map(|e| e["message"]["text"].as_str())
            .filter(|t| t.starts_with(&format!("{p}:")))
            .map(str::to_string)
            .collect();
        assert_eq!(thread, (0..12).map(|n| format!("{p}:{n}")).collect::<Vec<_>>(), "thread {p} in order");
    }
    let posts = bot.receiver.posts();
    assert!(posts.iter().all(|p| p.sha1_valid && p.sha256_valid || p.answered == 0));
    assert!(posts.iter().all(|p| p.json["entry"].as_array().unwrap().iter().all(|e| e["messaging"].as_array().unwrap().len() == 1)), "one event per entry");
    assert!(posts.iter().all(|p| p.json["entry"].as_array().unwrap().len() <= 5), "the batch cap holds");
    assert!(posts.iter().any(|p| p.json["entry"].as_array().unwrap().len() > 1), "threads share POSTs");
}

/// The texts of a POST's events, in its order.
fn texts_of(post: &Received) -> Vec<String> {
    post.json["entry"].as_array().unwrap().iter().map(|e| e["messaging"][0]["message"]["text"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threads_backlog_drains_in_ordered_batches_and_a_failed_batch_is_retried_whole() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |s| s.webhooks.batch_cap = 10).await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    // The first event fails and waits for its retry (the clock stands still) while
    // the thread's backlog queues up behind it.
    bot.receiver.fail_with(503);
    for n in 0..25 {
        ann.send("shop", &format!("backlog {n}")).await;
    }
    failures_recorded(&server, &bot.app.id, 1).await;
    // Its retry falls due: the thread's run goes as one batch, and fails whole.
    clock.advance(Duration::from_secs(60));
    server.platform().outbox_wake().notify_one();
    let failed_batch = eventually("a failed batch of ten", || {
        let batch = bot.receiver.posts().into_iter().find(|p| p.answered == 503 && texts_of(p).len() == 10);
        async move { batch }
    })
    .await;
    assert_eq!(texts_of(&failed_batch), (0..10).map(|n| format!("backlog {n}")).collect::<Vec<_>>(), "the thread's first ten, in order");

    let app = &bot.app.id;
    let attempts = failures_recorded(&server, app, 11).await;
    let attempt = attempts.iter().find(|a| a["events"] == 10).cloned().expect("the batched attempt in recent errors");
    let ids: Vec<i64> = attempt["event_ids"].as_array().unwrap().iter().map(|id| id.as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 10, "{attempt}");
    let fifth = get(&server, &format!("/apps/{app}/webhook/events/{}", ids[4])).await;
    assert!(fifth["attempts"].as_array().unwrap().iter().any(|a| a["id"] == attempt["id"]), "each event shows the batched attempt: {fifth}");

    bot.receiver.fail_with(0);
    clock.advance(Duration::from_secs(60));
    server.platform().outbox_wake().notify_one();
    bot.receiver.wait_for("the last of the backlog", |e| e["message"]["text"] == "backlog 24").await;
    let texts: Vec<Value> = bot.receiver.acknowledged_events().into_iter().map(|e| e["message"]["text"].clone()).collect();
    assert_eq!(texts, (0..25).map(|n| json!(format!("backlog {n}"))).collect::<Vec<_>>(), "in order, once each");
    let delivered: Vec<Received> = bot.receiver.posts().into_iter().filter(|p| p.answered == 200).collect();
    assert_eq!(delivered[0].body, failed_batch.body, "the failed batch is retried whole, the same bytes");
    assert!(delivered.iter().all(|p| texts_of(p).len() <= 10), "the batch cap holds");
    assert!(delivered.len() <= 4, "25 events of one thread in batches: {} POSTs", delivered.len());
    assert!(delivered.iter().all(|p| p.sha1_valid && p.sha256_valid));

    // A replay of one event of a batch sends that event alone.
    let (status, queued) = server.console_as(&server.operator, Method::POST, &format!("/apps/{app}/webhook/events/{}/replay", ids[4]), json!({})).await;
    assert_eq!(status.as_u16(), 200, "{queued}");
    let before = delivered.len();
    let replayed = eventually("the replayed event", || {
        let posts: Vec<Received> = bot.receiver.posts().into_iter().filter(|p| p.answered == 200).collect();
        async move { (posts.len() > before).then(|| posts[before].clone()) }
    })
    .await;
    assert_eq!(texts_of(&replayed), vec!["backlog 4"]);
}

#[tokio::test]
async fn non_ascii_text_is_escaped_and_signed_over_the_exact_bytes() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let text = "héllo wörld – 你好 👋";
    ann.send("shop", text).await;
    bot.receiver.wait_for("the message", |e| e["message"]["text"] == text).await;
    let post = bot.receiver.posts().into_iter().find(|p| p.json["entry"][0]["messaging"][0]["message"]["text"] == text).unwrap();
    assert!(post.sha1_valid && post.sha256_valid);
    assert!(post.body.is_ascii(), "non-ASCII is sent as \\u escapes, as Meta does");
    let body = String::from_utf8(post.body).unwrap();
    assert!(body.contains("h\\u00e9llo") && body.contains("\\ud83d\\udc4b"), "{body}");
}

#[tokio::test]
async fn prolonged_failure_alerts_then_unsubscribes_and_nothing_is_lost() {
    let clock = ManualClock::new();
    let alerts = WebhookReceiver::start("unused").await;
    let alert_url = alerts.url.clone();
    // Retries at most 15 minutes apart (Meta's cap): failures no further apart make
    // one failing spell.
    let server = TestServer::start_with_clock(clock.clone(), move |s| {
        s.webhooks.alert_url = Some(alert_url);
        s.webhooks.retry_max_ms = 15 * 60_000;
    })
    .await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let app = bot.app.id.clone();
    bot.receiver.fail_with(502);
    ann.send("shop", "first").await;
    ann.send("shop", "second").await;
    failures_recorded(&server, &app, 1).await;

    // 16 minutes of failure: one alert.
    clock.advance(Duration::from_secs(16 * 60));
    server.platform().outbox_wake().notify_one();
    let listed = eventually("the failing alert", || async {
        let listed = get(&server, &format!("/apps/{app}/webhook/alerts")).await;
        (listed["data"].as_array().unwrap().len() == 1).then_some(listed)
    })
    .await;
    assert_eq!(listed["data"][0]["kind"], "failing");
    assert!(listed["data"][0]["message"].as_str().unwrap().contains("HTTP 502"), "{listed}");
    let health = get(&server, &format!("/apps/{app}/webhook")).await;
    assert_eq!(health["pending"], 2);
    assert!(health["oldest_pending_age_ms"].as_i64().unwrap() >= 16 * 60_000);

    // Past an hour of failures, tried every 15 minutes: the app is unsubscribed from
    // the Page; its events become dead letters.
    for _ in 0..3 {
        let tried = failures_recorded(&server, &app, 1).await.len();
        clock.advance(Duration::from_secs(15 * 60));
        server.platform().outbox_wake().notify_one();
        eventually("the next failed attempt", || async {
            let errors = get(&server, &format!("/apps/{app}/webhook/errors")).await;
            (errors["data"].as_array().unwrap().len() > tried).then_some(())
        })
        .await;
    }
    let listed = eventually("the disabled alert", || async {
        let listed = get(&server, &format!("/apps/{app}/webhook/alerts")).await;
        (listed["data"][0]["kind"] == "disabled").then_some(listed)
    })
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0]["pages"], json!([bot.page.id]));
    let (status, installed) = server.graph_call(Method::GET, &format!("/{}/subscribed_apps", bot.page.id), Some(&bot.page_token), None).await;
    assert_eq!((status, installed["data"].as_array().unwrap().len()), (200, 0), "{installed}");
    let health = get(&server, &format!("/apps/{app}/webhook")).await;
    assert_eq!((&health["pending"], &health["dead"]), (&json!(0), &json!(2)));
    let kinds = eventually("both alerts at the alert URL", || {
        let kinds: Vec<Value> = alerts.posts().iter().map(|p| p.json["kind"].clone()).collect();
        async move { (kinds.len() == 2).then_some(kinds) }
    })
    .await;
    assert_eq!(kinds, vec![json!("failing"), json!("disabled")]);

    // The developer fixes the bot and replays the dead letters: same bytes, same order.
    bot.receiver.fail_with(0);
    let failed_body = posts_of(&bot, "first")[0].json["entry"][0]["messaging"][0].clone();
    let (status, queued) = server
        .console_as(&server.operator, Method::POST, &format!("/apps/{app}/webhook/replay"), json!({"from": 0, "to": i64::MAX}))
        .await;
    assert_eq!((status.as_u16(), queued["queued"].as_array().unwrap().len()), (200, 2), "{queued}");
    bot.receiver.wait_for("the second message", |e| e["message"]["text"] == "second").await;
    let texts: Vec<Value> = bot.receiver.acknowledged_events().iter().map(|e| e["message"]["text"].clone()).collect();
    assert_eq!(texts, vec![json!("first"), json!("second")]);
    assert_eq!(bot.receiver.acknowledged_events()[0], failed_body, "the replayed event is the one that failed");
    let (status, answer) = server
        .console_as(&server.operator, Method::POST, &format!("/apps/{app}/webhook/events/999999/replay"), json!({}))
        .await;
    assert_eq!((status.as_u16(), &answer["error"]["code"]), (400, &json!(100)));
}

#[tokio::test]
async fn an_event_is_given_up_after_the_retry_horizon_and_its_thread_moves_on() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |s| {
        s.webhooks.retry_for_secs = 3600;
        s.webhooks.alert_after_secs = 100 * 3600;
        s.webhooks.disable_after_secs = 100 * 3600;
    })
    .await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.fail_with(500);
    ann.send("shop", "too old").await;
    eventually("a failed attempt", || {
        let failed = posts_of(&bot, "too old").len();
        async move { (failed >= 1).then_some(()) }
    })
    .await;
    clock.advance(Duration::from_secs(3601));
    server.platform().outbox_wake().notify_one();
    let dead = eventually("the event given up", || async {
        let dead = get(&server, &format!("/apps/{}/webhook/events?state=dead", bot.app.id)).await;
        (dead["data"].as_array().unwrap().len() == 1).then_some(dead)
    })
    .await;
    assert_eq!(dead["data"][0]["last_error"], "HTTP 500");
    bot.receiver.fail_with(0);
    ann.send("shop", "fresh").await;
    bot.receiver.wait_for("the next event of the thread", |e| e["message"]["text"] == "fresh").await;
    let event = dead["data"][0]["id"].as_i64().unwrap();
    let (status, queued) = server
        .console_as(&server.operator, Method::POST, &format!("/apps/{}/webhook/events/{event}/replay", bot.app.id), json!({}))
        .await;
    assert_eq!(status.as_u16(), 200, "{queued}");
    bot.receiver.wait_for("the replayed event", |e| e["message"]["text"] == "too old").await;
}

/// `switchboard webhook ...` on the running node's data directory, as an operator would.
fn cli(server: &TestServer, args: &[&str]) -> (bool, Value, String) {
    let output = std::process::Command::new(switchboard_binary())
        .args(["webhook"])
        .args(args)
        .arg("--data")
        .arg(server.dir.path())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), serde_json::from_slice(&output.stdout).unwrap_or(Value::Null), stderr)
}

#[tokio::test]
async fn the_cli_shows_errors_and_health_and_replays() {
    let server = TestServer::start_with(|s| {
        s.webhooks.retry_initial_ms = 60_000;
        s.webhooks.retry_max_ms = 60_000;
    })
    .await;
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.fail_with(500);
    ann.send("shop", "via the cli").await;
    let app = bot.app.id.as_str();
    let errors = eventually("the failure in the CLI", || {
        let (ok, errors, _) = cli(&server, &["errors", "--app", app]);
        async move { (ok && errors["data"].as_array().is_some_and(|d| !d.is_empty())).then_some(errors) }
    })
    .await;
    assert_eq!((&errors["data"][0]["kind"], &errors["data"][0]["status"]), (&json!("http_status"), &json!(500)));
    let (ok, health, stderr) = cli(&server, &["health", "--app", app]);
    assert!(ok, "{stderr}");
    assert_eq!((&health["pending"], &health["last_error"]), (&json!(1), &json!("HTTP 500")));

    // The next retry is a minute away; a replay makes it due now.
    bot.receiver.fail_with(0);
    let pending = get(&server, &format!("/apps/{app}/webhook/events?state=pending")).await;
    let event = pending["data"][0]["id"].as_i64().unwrap().to_string();
    let (ok, shown, stderr) = cli(&server, &["event", "--app", app, "--event", &event]);
    assert!(ok, "{stderr}");
    assert_eq!((&shown["state"], shown["attempts"].as_array().unwrap().len()), (&json!("pending"), 1));
    let (ok, queued, stderr) = cli(&server, &["replay", "--app", app, "--event", &event]);
    assert!(ok, "{stderr}");
    assert_eq!(queued["queued"], json!([event.parse::<i64>().unwrap()]));
    bot.receiver.wait_for("the replayed event", |e| e["message"]["text"] == "via the cli").await;

    let (ok, _, stderr) = cli(&server, &["replay", "--app", app]);
    assert!(!ok && stderr.contains("--event"), "{stderr}");
    let (ok, _, stderr) = cli(&server, &["errors", "--app", "999"]);
    assert!(!ok && stderr.contains("999"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_delivery_loses_nothing_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", data.path().join("switchboard.db").display());
    // Timeout 1 s: a lease lasts 3 s.
    let first = NodeProcess::start("first", &database, 1).await;
    let via_first = TestServer::external(&first.url, first.operator.as_deref().unwrap());
    let bot = via_first.bot("shop", "messages").await;
    let ann = via_first.sign_in(&via_first.person("ann").await).await;
    bot.receiver.hold(true);
    for n in 0..3 {
        ann.send("shop", &format!("before the crash {n}")).await;
    }
    eventually("a POST in flight", || {
        let arrived = !bot.receiver.posts().is_empty();
        async move { arrived.then_some(()) }
    })
    .await;
    first.kill_hard().await;
    bot.receiver.hold(false);

    let second = NodeProcess::start("second", &database, 1).await;
    bot.receiver.wait_for("the last message", |e| e["message"]["text"] == "before the crash 2").await;
    let texts: Vec<Value> = bot.receiver.acknowledged_events().iter().map(|e| e["message"]["text"].clone()).collect();
    assert_eq!(texts, (0..3).map(|n| json!(format!("before the crash {n}"))).collect::<Vec<_>>(), "all of them, in order, once");
    drop(second);
}
