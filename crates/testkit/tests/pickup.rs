//! A bot with no public address: `switchboard listen` (the real binary) forwarding
//! an app's webhooks to a local port, and the pull API (`GET /{app-id}/updates`).
//! Multi-node cases are in `multinode.rs`.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_testkit::*;

/// An app granted a Page and installed on it for `fields`, with no webhook at all.
async fn app_without_webhook(server: &TestServer, username: &str, fields: &str) -> (TestApp, TestPage, String) {
    let admin = server.person(&format!("{username}-admin")).await;
    let page = server.page(&admin, username).await;
    let app = server.app(&format!("{username} bot")).await;
    server.go_live(&app).await;
    let page_token = server.grant(&page, &app, &admin).await;
    server.install(&page_token, &page, fields).await;
    (app, page, page_token)
}

/// Waits until the node holds none of the app's events pending: the bot has its
/// answer before the node records it.
async fn settled(server: &TestServer, app: &TestApp, what: &str) {
    eventually(what, || async {
        let health = server.console(Method::GET, &format!("/apps/{}/webhook", app.id), json!({})).await;
        (health["pending"] == 0).then_some(())
    })
    .await;
}

/// The bot answers the person through the Send API (its echo is a webhook event too).
async fn answer_as_the_bot(server: &TestServer, page_token: &str, psid: &str) {
    let message = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "an answer"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(page_token), Some(message)).await;
    assert_eq!(status, 200, "{answer}");
}

fn texts(events: &[Value]) -> Vec<String> {
    events.iter().filter_map(|e| e["message"]["text"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn a_bot_on_a_local_port_gets_its_messages_through_listen_retried_and_resumed_after_a_kill() {
    let server = TestServer::start().await;
    let (app, page, _) = app_without_webhook(&server, "laptop", "messages").await;
    let bot = WebhookReceiver::start(&app.secret).await;
    let listener = ListenProcess::start(&server.url, &app, &bot.url, &[]).await;

    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send(&page.username, "one").await;
    bot.wait_for("the first message through the listener", |e| e["message"]["text"] == "one").await;
    let post = bot.posts().into_iter().find(|p| p.answered == 200).expect("an acknowledged POST");
    assert!(post.sha1_valid && post.sha256_valid, "both signatures, over the exact body");
    assert_eq!(post.json["object"], "page");
    let line = eventually("the listener's line for it", || {
        let line = listener.lines().into_iter().find(|l| l.contains("messages") && l.contains("→ 200"));
        async move { line }
    })
    .await;
    assert!(line.contains(&format!("page {}", page.id)) && line.contains("psid ") && line.contains(" ms"), "{line}");

    // The bot fails: the event is retried as a failed callback would be, and the
    // console's recent errors show it came through a listener.
    bot.fail_with(500);
    ann.send(&page.username, "two").await;
    eventually("two refused attempts", || {
        let refused = bot.posts().iter().filter(|p| p.answered == 500).count();
        async move { (refused >= 2).then_some(()) }
    })
    .await;
    let errors = server.console(Method::GET, &format!("/apps/{}/webhook/errors", app.id), json!({})).await;
    let latest = &errors["data"][0];
    assert_eq!(latest["url"], format!("listener → {}", bot.url), "{errors}");
    assert_eq!((&latest["kind"], &latest["status"]), (&json!("http_status"), &json!(500)));
    assert_eq!(latest["response_excerpt"], FAILURE_BODY);
    bot.fail_with(0);
    bot.wait_for("the retried message", |e| e["message"]["text"] == "two").await;

    // The bot has its answer before the node does: wait for the node, so that
    // nothing is in flight when the listener dies.
    settled(&server, &app, "the retried message settled").await;
    // Killed without a word: what comes meanwhile waits (the app has no callback),
    // and a new listener gets it, nothing lost, in order.
    listener.kill_hard().await;
    ann.send(&page.username, "three").await;
    ann.send(&page.username, "four").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let errors = server.console(Method::GET, &format!("/apps/{}/webhook/errors", app.id), json!({})).await;
    assert!(errors["data"].as_array().unwrap().iter().all(|e| e["kind"] != "no_webhook"), "waiting events are not failures: {errors}");
    let health = server.console(Method::GET, &format!("/apps/{}/webhook", app.id), json!({})).await;
    assert_eq!(health["pending"], 2, "{health}");
    let again = ListenProcess::start(&server.url, &app, &bot.url, &[]).await;
    bot.wait_for("the message sent while no listener was there", |e| e["message"]["text"] == "four").await;
    assert_eq!(texts(&bot.acknowledged_events()), ["one", "two", "three", "four"], "each once, in order");

    // Killed while its bot holds a delivery unanswered: the node lets go of it when
    // the stream closes, and the next listener delivers it.
    bot.hold(true);
    ann.send(&page.username, "five").await;
    eventually("the bot holding the fifth", || {
        let held = bot.posts().iter().any(|p| p.json["entry"][0]["messaging"][0]["message"]["text"] == "five");
        async move { held.then_some(()) }
    })
    .await;
    again.kill_hard().await;
    bot.hold(false);
    let _third = ListenProcess::start(&server.url, &app, &bot.url, &[]).await;
    settled(&server, &app, "the fifth settled through the third listener").await;
    let got = texts(&bot.acknowledged_events());
    assert_eq!(got[..4], ["one", "two", "three", "four"]);
    assert!(got[4..].iter().all(|t| t == "five") && got.len() >= 5, "at least once, nothing else: {got:?}");
}

#[tokio::test]
async fn while_a_listener_is_connected_the_callback_gets_nothing_and_afterwards_it_gets_everything_again() {
    let server = TestServer::start().await;
    let hosted = server.bot("hosted", "messages").await;
    let laptop = WebhookReceiver::start(&hosted.app.secret).await;
    let ann = server.sign_in(&server.person("ann").await).await;

    let listener = ListenProcess::start(&server.url, &hosted.app, &laptop.url, &["--events", "messages"]).await;
    ann.send("hosted", "to the laptop").await;
    laptop.wait_for("the message on the laptop", |e| e["message"]["text"] == "to the laptop").await;
    let delivery = server.console(Method::GET, &format!("/apps/{}/webhook/delivery", hosted.app.id), json!({})).await;
    assert_eq!((&delivery["mode"], &delivery["callback_url"]), (&json!("webhook"), &json!(hosted.receiver.url)));
    assert_eq!(delivery["listeners"].as_array().unwrap().len(), 1, "{delivery}");

    listener.kill_hard().await;
    // The node notices the closed stream at its next keep-alive and lets go.
    eventually("the listener gone", || async {
        let delivery = server.console(Method::GET, &format!("/apps/{}/webhook/delivery", hosted.app.id), json!({})).await;
        delivery["listeners"].as_array().unwrap().is_empty().then_some(())
    })
    .await;
    ann.send("hosted", "to the callback").await;
    hosted.receiver.wait_for("the message at the callback again", |e| e["message"]["text"] == "to the callback").await;
    assert!(texts(&hosted.receiver.acknowledged_events()).iter().all(|t| t != "to the laptop"), "the callback never saw the laptop's message");
}

#[tokio::test]
async fn a_listener_is_refused_a_wrong_secret_and_an_app_in_pull_mode() {
    let server = TestServer::start().await;
    let (app, _, _) = app_without_webhook(&server, "refusing", "messages").await;
    let token = format!("{}|{}", app.id, app.secret);
    let (status, body) = server.graph_call(Method::GET, &format!("/{}/listen", app.id), Some(&format!("{}|wrong", app.id)), None).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(190)), "{body}");
    // A bounded number of listeners per app.
    let mut streams = Vec::new();
    for _ in 0..16 {
        let stream = server.http.get(format!("{}/{}/listen", server.graph(), app.id)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(stream.status(), 200);
        streams.push(stream);
    }
    let (status, body) = server.graph_call(Method::GET, &format!("/{}/listen", app.id), Some(&token), None).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)), "a seventeenth listener: {body}");
    drop(streams);
    eventually("the closed streams noticed", || async {
        let delivery = server.console(Method::GET, &format!("/apps/{}/webhook/delivery", app.id), json!({})).await;
        delivery["listeners"].as_array().unwrap().is_empty().then_some(())
    })
    .await;
    let other = server.app("other").await;
    let (status, body) = server.graph_call(Method::GET, &format!("/{}/listen", other.id), Some(&token), None).await;
    assert_eq!(status, 403, "another app's token: {body}");
    // Switching to pull while a listener is connected is refused: both would take the same events.
    let listener = server.http.get(format!("{}/{}/listen", server.graph(), app.id)).bearer_auth(&token).send().await.unwrap();
    let (status, body) = server.console_as(&server.operator, Method::PUT, &format!("/apps/{}/webhook/delivery", app.id), json!({"mode": "pull"})).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_i64()), (400, Some(100)), "{body}");
    drop(listener);
    eventually("the listener gone", || async {
        let (status, _) = server.console_as(&server.operator, Method::PUT, &format!("/apps/{}/webhook/delivery", app.id), json!({"mode": "pull"})).await;
        status.is_success().then_some(())
    })
    .await;
    let (status, body) = server.graph_call(Method::GET, &format!("/{}/listen", app.id), Some(&token), None).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)), "{body}");
    let (status, body) = server.graph_call(Method::POST, "/", Some(&token), Some(json!({"batch": [{"method": "GET", "relative_url": format!("{}/listen", app.id)}]}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body[0]["body"].as_str().unwrap().contains("cannot be part of a batch"), "{body}");
}

async fn updates(server: &TestServer, app: &TestApp, query: &str) -> (u16, Value) {
    let token = format!("{}|{}", app.id, app.secret);
    server.graph_call(Method::GET, &format!("/{}/updates?{query}", app.id), Some(&token), None).await
}

fn update_texts(answer: &Value) -> Vec<String> {
    answer["data"].as_array().unwrap().iter().filter_map(|u| u["envelope"]["entry"][0]["messaging"][0]["message"]["text"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn a_poller_receives_acknowledges_by_offset_and_long_polls() {
    let server = TestServer::start().await;
    let (app, page, _) = app_without_webhook(&server, "puller", "messages").await;
    let (status, body) = updates(&server, &app, "").await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)), "not in pull mode: {body}");
    let set = server.console(Method::PUT, &format!("/apps/{}/webhook/delivery", app.id), json!({"mode": "pull", "fields": ["messages"]})).await;
    assert_eq!((&set["mode"], &set["callback_url"], &set["fields"]), (&json!("pull"), &Value::Null, &json!(["messages"])));

    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send(&page.username, "first").await;
    ann.send(&page.username, "second").await;
    let (status, first) = updates(&server, &app, "timeout=5").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(update_texts(&first), ["first", "second"]);
    let ids: Vec<i64> = first["data"].as_array().unwrap().iter().map(|u| u["update_id"].as_i64().unwrap()).collect();
    assert!(ids[0] < ids[1]);
    assert_eq!(first["data"][0]["field"], "messages");
    assert_eq!(first["data"][0]["envelope"]["object"], "page");
    assert_eq!(first["next_offset"], ids[1] + 1);

    // Not acknowledged: handed out again. Acknowledging the first only.
    let (_, again) = updates(&server, &app, "").await;
    assert_eq!(update_texts(&again), ["first", "second"]);
    let (_, rest) = updates(&server, &app, &format!("offset={}", ids[0] + 1)).await;
    assert_eq!(update_texts(&rest), ["second"]);
    let (_, empty) = updates(&server, &app, &format!("offset={}&timeout=0", ids[1] + 1)).await;
    assert_eq!(update_texts(&empty), Vec::<String>::new());
    assert_eq!(empty["next_offset"], ids[1] + 1);

    // A long poll waits for the next message, and a second poller meanwhile is refused.
    let long_poll = long_poll(&server.graph(), &app, "timeout=20");
    eventually("the long poll waiting", || async {
        let delivery = server.console(Method::GET, &format!("/apps/{}/webhook/delivery", app.id), json!({})).await;
        delivery["poller"].is_object().then_some(())
    })
    .await;
    let (status, busy) = updates(&server, &app, "").await;
    assert_eq!((status, busy["error"]["code"].as_i64()), (409, Some(100)), "{busy}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    ann.send(&page.username, "third").await;
    let (answer, waited) = long_poll.await.unwrap();
    assert_eq!(update_texts(&answer), ["third"], "{answer}");
    assert!(waited < Duration::from_secs(15), "answered when the message came, not at the timeout: {waited:?}");

    // Bad parameters are refused in the Graph envelope.
    for query in ["limit=0", "limit=101", "timeout=51", "offset=abc"] {
        let (status, body) = updates(&server, &app, query).await;
        assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)), "{query}: {body}");
    }
    // And nothing was POSTed anywhere meanwhile: the errors log is empty.
    let errors = server.console(Method::GET, &format!("/apps/{}/webhook/errors", app.id), json!({})).await;
    assert_eq!(errors["data"], json!([]));
}

#[tokio::test]
async fn the_example_bot_answers_in_pull_mode() {
    let server = TestServer::start().await;
    let bot = PullingBot::start(&server, "pulling", &["messages", "messaging_postbacks"]).await;
    let mut ann = server.sign_in(&server.person("ann").await).await;
    ann.listen().await;
    ann.send(&bot.page.username, "hello").await;
    ann.wait_live("the pulling bot's echo", |e| e["message"]["text"] == "echo: hello").await;
    ann.send(&bot.page.username, "again").await;
    ann.wait_live("the second echo, after the first was acknowledged", |e| e["message"]["text"] == "echo: again").await;
    let health = server.console(Method::GET, &format!("/apps/{}/webhook", bot.app.id), json!({})).await;
    assert!(health["pending"].as_u64().unwrap() <= 1, "acknowledged by the next poll's offset: {health}");
}

#[tokio::test]
async fn two_listeners_share_an_apps_threads_each_in_order_and_a_filter_settles_the_rest_unsent() {
    // One unanswered delivery per listener, so that a busy listener leaves the rest
    // to the other.
    let server = TestServer::start_with(|settings| settings.webhooks.max_in_flight_per_endpoint = 1).await;
    let (app, page, page_token) = app_without_webhook(&server, "shared", "messages,message_echoes").await;
    let (busy_bot, free_bot) = (WebhookReceiver::start(&app.secret).await, WebhookReceiver::start(&app.secret).await);
    let mut persons = Vec::new();
    for name in ["ann", "bob", "cid"] {
        persons.push(server.sign_in(&server.person(name).await).await);
    }
    let _busy = ListenProcess::start(&server.url, &app, &busy_bot.url, &["--events", "messages"]).await;
    busy_bot.hold(true);
    persons[0].send(&page.username, "ann-0").await;
    eventually("the busy bot holding ann's first", || {
        let held = !busy_bot.posts().is_empty();
        async move { held.then_some(()) }
    })
    .await;
    let free = ListenProcess::start(&server.url, &app, &free_bot.url, &["--events", "messages", "--print-json"]).await;
    for n in 0..6 {
        for (person, name) in persons.iter().zip(["ann", "bob", "cid"]) {
            if (name, n) != ("ann", 0) {
                person.send(&page.username, &format!("{name}-{n}")).await;
            }
        }
    }
    free_bot.wait_for("bob's last through the other listener", |e| e["message"]["text"] == "bob-5").await;
    free_bot.wait_for("cid's last through the other listener", |e| e["message"]["text"] == "cid-5").await;
    assert!(texts(&free_bot.acknowledged_events()).iter().all(|t| !t.starts_with("ann")), "ann's thread waits behind its first event");
    busy_bot.hold(false);
    eventually("ann's thread done", || {
        let all: Vec<String> = texts(&busy_bot.acknowledged_events()).into_iter().chain(texts(&free_bot.acknowledged_events())).collect();
        async move { all.iter().any(|t| t == "ann-5").then_some(()) }
    })
    .await;
    for (name, bot) in [("bob", &free_bot), ("cid", &free_bot)] {
        let thread: Vec<String> = texts(&bot.acknowledged_events()).into_iter().filter(|t| t.starts_with(name)).collect();
        assert_eq!(thread, (0..6).map(|n| format!("{name}-{n}")).collect::<Vec<_>>(), "each thread once and in order");
    }
    settled(&server, &app, "ann's thread settled").await;
    // Ann's first went through the busy listener, the rest through either: each once.
    let mut ann: Vec<String> = [&busy_bot, &free_bot].iter().flat_map(|bot| texts(&bot.acknowledged_events())).filter(|t| t.starts_with("ann")).collect();
    ann.sort_by_key(|t| t[4..].parse::<u32>().unwrap());
    assert_eq!(ann, (0..6).map(|n| format!("ann-{n}")).collect::<Vec<_>>(), "ann's messages once each");
    assert!(free.lines().iter().any(|l| l.starts_with("{\"object\":\"page\"")), "--print-json prints the bodies");

    // The bot's own answer makes an echo, which neither listener forwards: it is
    // settled unsent.
    let psid = free_bot.acknowledged_events()[0]["sender"]["id"].as_str().unwrap().to_string();
    answer_as_the_bot(&server, &page_token, &psid).await;
    eventually("the echo settled", || async {
        let delivered = server.console(Method::GET, &format!("/apps/{}/webhook/events?state=delivered", app.id), json!({})).await;
        delivered["data"].as_array().unwrap().iter().any(|e| e["field"] == "message_echoes").then_some(())
    })
    .await;
    for bot in [&busy_bot, &free_bot] {
        assert!(bot.posts().iter().all(|p| p.json["entry"][0]["messaging"][0]["message"]["is_echo"].is_null()), "no echo reached a bot");
    }
}

/// An event left out by `--events` ahead of a wanted one in the same thread is
/// settled with the wanted one's answer: the wanted one goes once.
#[tokio::test]
async fn a_filtered_event_ahead_of_a_wanted_one_is_settled_with_its_answer() {
    let server = TestServer::start().await;
    let (app, page, page_token) = app_without_webhook(&server, "filtered", "messages,message_echoes").await;
    let bot = WebhookReceiver::start(&app.secret).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    // A first listener makes the app's webhook, takes the first message and goes.
    let first = ListenProcess::start(&server.url, &app, &bot.url, &["--events", "messages"]).await;
    ann.send(&page.username, "hello").await;
    let psid = bot.wait_for("the first message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    settled(&server, &app, "the first message settled").await;
    first.kill_hard().await;
    // With no listener, the bot's answer (an echo, not wanted) and Ann's next message wait, in that order.
    answer_as_the_bot(&server, &page_token, &psid).await;
    ann.send(&page.username, "after the answer").await;
    let _second = ListenProcess::start(&server.url, &app, &bot.url, &["--events", "messages"]).await;
    bot.wait_for("the message behind the echo", |e| e["message"]["text"] == "after the answer").await;
    settled(&server, &app, "both settled").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(texts(&bot.acknowledged_events()), ["hello", "after the answer"], "each once; the echo never forwarded");
}
