//! Webhook receivers that hang, trickle and reset, against a real `switchboard
//! serve` process on SQLite: the POST timeout holds as a total bound (measured at
//! the receiver), apps with healthy receivers are not slowed while more endpoints
//! hang than the node has POST slots for, and the failing app follows Meta's rules:
//! backoff, an alert, then unsubscribed, its events kept as dead letters, every
//! attempt in the log with its kind.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard_testkit::*;

async fn get(server: &TestServer, path: &str) -> Value {
    server.console(Method::GET, path, json!({})).await
}

/// Polls `check` until it returns `Some`, up to `patience` (for waits longer than
/// [`PATIENCE`], such as a 20 s timeout).
async fn within<T, Fut: std::future::Future<Output = Option<T>>>(what: &str, patience: Duration, mut check: impl FnMut() -> Fut) -> T {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `switchboard serve` process on a fresh SQLite file, with `settings` on top of
/// the cluster's test settings; answers it and a handle to drive it over HTTP.
async fn sqlite_node(name: &str, timeout_secs: u64, settings: &[(&str, &str)]) -> (NodeProcess, TestServer, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_on(name, &NodeStore::Sqlite(data.path().to_path_buf()), timeout_secs, settings).await;
    let server = TestServer::external(&node.url, node.operator.as_deref().expect("a first node prints the operator credential"));
    (node, server, data)
}

fn kinds(attempts: &Value) -> Vec<String> {
    attempts["data"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap().to_string()).collect()
}

/// Eleven hung endpoints (ten silent, one trickling), eight POSTs each, are more
/// than the node's 64 POST slots. The healthy apps' events still arrive while
/// every hung POST is held, and each hung POST is cut at the default 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_receivers_are_cut_at_20_s_and_other_apps_are_not_slowed() {
    // One event per POST, so that eight threads make eight POSTs; everything else
    // as shipped: 20 s, 64 in flight, 8 per endpoint.
    let (_node, server, _data) = sqlite_node("hung", 20, &[("SWITCHBOARD_WEBHOOKS__BATCH_CAP", "1")]).await;
    // Each on a Page of its own: a Page's messages go to the thread's one owner.
    let admin = server.person("dark-admin").await;
    let mut hung = Vec::new();
    for n in 0..11 {
        let page = server.page(&admin, &format!("dark{n}")).await;
        let behaviour = if n == 0 { Behaviour::Trickle } else { Behaviour::Silent };
        hung.push((page.username.clone(), server.hostile_bot(&page, &admin, &format!("dark bot {n}"), behaviour, "messages").await));
    }
    let bright = server.bot("bright", "messages").await;
    let bright_too = server.bot("brighter", "messages").await;

    let mut persons = Vec::new();
    for n in 0..8 {
        persons.push(server.sign_in(&server.person(&format!("writer{n}")).await).await);
    }
    for person in &persons {
        for (page, _) in &hung {
            person.send(page, "into the dark").await;
        }
    }
    let slots = 64;
    let posts = || hung.iter().map(|(_, bot)| bot.receiver.posts()).sum::<usize>();
    eventually("every POST slot held by a hung endpoint", || {
        let held = posts();
        async move { (held >= slots).then_some(()) }
    })
    .await;

    let sent = Instant::now();
    persons[0].send("bright", "still on time").await;
    persons[0].send("brighter", "still on time").await;
    bright.receiver.wait_for("the healthy app's event", |e| e["message"]["text"] == "still on time").await;
    bright_too.receiver.wait_for("the other healthy app's event", |e| e["message"]["text"] == "still on time").await;
    let took = sent.elapsed();
    let cut: Vec<Duration> = hung.iter().flat_map(|(_, bot)| bot.receiver.holds()).collect();
    assert!(cut.is_empty(), "the healthy apps waited for hung POSTs to be cut ({cut:?}; {took:?})");
    assert!(took < Duration::from_secs(5), "the healthy apps' event took {took:?}");

    // Each hung endpoint's eight first POSTs are cut at 20 s, no earlier, and not
    // much later: for the trickling one too, whose 200 would take over a minute.
    let limit = Duration::from_secs(20);
    for (_, bot) in &hung {
        let holds = within("the first POSTs cut", limit + Duration::from_secs(15), || {
            let holds = bot.receiver.holds();
            async move { (holds.len() >= 8).then_some(holds) }
        })
        .await;
        for held in holds {
            assert!(held >= limit - Duration::from_secs(1) && held <= limit + Duration::from_secs(3), "{:?} held {held:?}", bot.receiver.behaviour());
        }
        let attempts = get(&server, &format!("/apps/{}/webhook/errors", bot.app.id)).await;
        let kinds = kinds(&attempts);
        assert!(!kinds.is_empty() && kinds.iter().all(|k| k == "timeout"), "{:?}: {attempts}", bot.receiver.behaviour());
        assert_eq!(attempts["data"][0]["error"], "no answer within 20 s");
    }
}

/// Receivers that hung once are held to the stalled slots from then on: with more
/// hung endpoints than slots of both kinds (three, two POSTs each, against four
/// slots and two stalled ones), their retries take only the stalled slots, and a
/// healthy app's event goes at once while they hang again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_that_stalled_wait_in_the_stalled_slots_and_leave_the_others_free() {
    let max_stalled = 2;
    let settings = [
        ("SWITCHBOARD_WEBHOOKS__BATCH_CAP", "1"),
        ("SWITCHBOARD_WEBHOOKS__MAX_IN_FLIGHT", "4"),
        ("SWITCHBOARD_WEBHOOKS__MAX_IN_FLIGHT_PER_ENDPOINT", "2"),
        ("SWITCHBOARD_WEBHOOKS__MAX_STALLED", "2"),
        ("SWITCHBOARD_WEBHOOKS__STALLED_AFTER_MS", "300"),
    ];
    let (_node, server, _data) = sqlite_node("stalling", 3, &settings).await;
    let admin = server.person("quiet-admin").await;
    let mut hung = Vec::new();
    for n in 0..3 {
        let page = server.page(&admin, &format!("quiet{n}")).await;
        hung.push((page.username.clone(), server.hostile_bot(&page, &admin, &format!("quiet bot {n}"), Behaviour::Silent, "messages").await));
    }
    let healthy = server.bot("lively", "messages").await;
    let persons = [server.sign_in(&server.person("una").await).await, server.sign_in(&server.person("ugo").await).await];
    for person in &persons {
        for (page, _) in &hung {
            person.send(page, "into the quiet").await;
        }
    }
    let connections = || hung.iter().flat_map(|(_, bot)| bot.receiver.connections()).filter(|c| c.first_post.is_some()).collect::<Vec<_>>();
    // The first round is cut (each endpoint has stalled once), and the retries hang.
    let first_round = 6;
    within("the first round of POSTs cut", Duration::from_secs(15), || {
        let cut = connections().iter().filter(|c| c.closed.is_some()).count();
        async move { (cut >= first_round).then_some(()) }
    })
    .await;
    within("a retry hanging for a second", Duration::from_secs(10), || {
        let hanging = connections().iter().any(|c| c.closed.is_none() && c.first_post.is_some_and(|at| at.elapsed() >= Duration::from_secs(1)));
        async move { hanging.then_some(()) }
    })
    .await;
    let open = connections().iter().filter(|c| c.closed.is_none()).count();
    assert!(open <= max_stalled, "{open} POSTs of stalling endpoints in flight, beyond the {max_stalled} stalled slots");

    persons[0].send("lively", "not held up").await;
    healthy.receiver.wait_for("the healthy app's event", |e| e["message"]["text"] == "not held up").await;
    let cut = connections().iter().filter(|c| c.closed.is_some()).count();
    assert_eq!(cut, first_round, "the healthy app waited for the retries to be cut");
}

/// With quick settings (2 s timeout, retries from 250 ms to 1 s, an alert after
/// 2 s of failure, unsubscribed after 5 s), each hostile app is retried on the
/// schedule, alerted, unsubscribed from its Page, its event kept as a dead letter,
/// and every attempt logged with its kind; a healthy app on the same node is served,
/// and a receiver that heals after a timeout gets its event on a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_receivers_app_backs_off_is_alerted_and_unsubscribed_keeping_its_events() {
    let (initial_ms, max_ms) = (250, 1000);
    let settings = [
        ("SWITCHBOARD_WEBHOOKS__RETRY_INITIAL_MS", "250"),
        ("SWITCHBOARD_WEBHOOKS__RETRY_MAX_MS", "1000"),
        ("SWITCHBOARD_WEBHOOKS__ALERT_AFTER_SECS", "2"),
        ("SWITCHBOARD_WEBHOOKS__DISABLE_AFTER_SECS", "5"),
    ];
    let (_node, server, _data) = sqlite_node("failing", 2, &settings).await;
    let mut hostile = Vec::new();
    for (page_name, behaviour) in [("silent", Behaviour::Silent), ("trickle", Behaviour::Trickle), ("reset", Behaviour::Reset)] {
        let admin = server.person(&format!("{page_name}-admin")).await;
        let page = server.page(&admin, page_name).await;
        let bot = server.hostile_bot(&page, &admin, &format!("{page_name} bot"), behaviour, "messages").await;
        hostile.push((page, bot));
    }
    let calm = server.bot("calm", "messages").await;
    let healing_admin = server.person("healing-admin").await;
    let healing_page = server.page(&healing_admin, "healing").await;
    let healing = server.hostile_bot(&healing_page, &healing_admin, "healing bot", Behaviour::Silent, "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for (page, _) in &hostile {
        ann.send(&page.username, "to a hostile bot").await;
    }
    ann.send("calm", "to a calm bot").await;
    ann.send("healing", "to a bot that heals").await;
    calm.receiver.wait_for("the calm bot's event", |e| e["message"]["text"] == "to a calm bot").await;

    // A receiver that heals after a timeout gets the event on a retry, once, and
    // its app stays subscribed.
    eventually("the healing receiver's first POST cut", || {
        let cut = !healing.receiver.holds().is_empty();
        async move { cut.then_some(()) }
    })
    .await;
    healing.receiver.set_behaviour(Behaviour::Answer);
    eventually("the healed receiver's event", || {
        let events = healing.receiver.answered_events();
        async move { (!events.is_empty()).then_some(()) }
    })
    .await;
    let texts: Vec<Value> = healing.receiver.answered_events().iter().map(|e| e["message"]["text"].clone()).collect();
    assert_eq!(texts, vec![json!("to a bot that heals")]);
    let health = eventually("the healed app's health", || async {
        let health = get(&server, &format!("/apps/{}/webhook", healing.app.id)).await;
        (health["pending"] == 0).then_some(health)
    })
    .await;
    assert_eq!(health["failing_since"], Value::Null, "{health}");
    let (status, installed) = server.graph_call(Method::GET, &format!("/{}/subscribed_apps", healing_page.id), Some(&healing.page_token), None).await;
    assert_eq!((status, installed["data"].as_array().map(Vec::len)), (200, Some(1)), "{installed}");

    for (page, bot) in &hostile {
        let app = &bot.app.id;
        let behaviour = bot.receiver.behaviour();
        let alerts = within("the app unsubscribed", Duration::from_secs(30), || async {
            let alerts = get(&server, &format!("/apps/{app}/webhook/alerts")).await;
            (alerts["data"][0]["kind"] == "disabled").then_some(alerts)
        })
        .await;
        // Newest first: the alert after 2 s of failure, then the unsubscription after 5 s.
        let alerts = alerts["data"].as_array().unwrap();
        assert_eq!(alerts.iter().map(|a| a["kind"].clone()).collect::<Vec<_>>(), vec![json!("disabled"), json!("failing")], "{behaviour:?}");
        assert_eq!(alerts[0]["pages"], json!([page.id]));
        let (failing, disabled) = (alerts[1]["created_at"].as_i64().unwrap(), alerts[0]["created_at"].as_i64().unwrap());

        let (status, installed) = server.graph_call(Method::GET, &format!("/{}/subscribed_apps", page.id), Some(&bot.page_token), None).await;
        assert_eq!((status, installed["data"].as_array().map(Vec::len)), (200, Some(0)), "{behaviour:?}: {installed}");

        // Every attempt the receiver saw is in the log, with its kind; the first
        // failure started the clocks of the alert and the unsubscription.
        let attempts = get(&server, &format!("/apps/{app}/webhook/errors")).await;
        let expected = if behaviour == Behaviour::Reset { "reset" } else { "timeout" };
        let kinds = kinds(&attempts);
        assert_eq!(kinds.len(), bot.receiver.posts(), "{behaviour:?}: {attempts}");
        assert!(kinds.len() >= 3 && kinds.iter().all(|k| k == expected), "{behaviour:?}: {attempts}");
        let first_failure = attempts["data"].as_array().unwrap().last().unwrap()["time"].as_i64().unwrap();
        assert!(first_failure >= started);
        assert!(failing - first_failure >= 2_000 && disabled - first_failure >= 5_000, "{behaviour:?}: {failing} {disabled} {first_failure}");

        // The event is kept as a dead letter, its failures counted.
        let events = get(&server, &format!("/apps/{app}/webhook/events")).await;
        let event = &events["data"][0];
        assert_eq!((events["data"].as_array().unwrap().len(), &event["state"]), (1, &json!("dead")), "{behaviour:?}: {events}");
        assert_eq!(event["failures"].as_u64(), Some(kinds.len() as u64), "{events}");

        // A POST that hangs or trickles is held for the 2 s timeout, no less and
        // not much more; a reset one, not at all.
        let (at_least, at_most) = match behaviour {
            Behaviour::Reset => (Duration::ZERO, Duration::from_secs(1)),
            _ => (Duration::from_millis(1_500), Duration::from_secs(2 + 2)),
        };
        for held in bot.receiver.holds() {
            assert!(held >= at_least && held <= at_most, "{behaviour:?} held {held:?}");
        }
    }

    // The retries back off: each wait at least the schedule's (doubling from 250
    // ms, less the 20 % jitter), never much more than its 1 s cap. Seen at the
    // resetting receiver, whose attempts fail at once.
    let (_, reset) = &hostile[2];
    let attempts = reset.receiver.attempts();
    let gaps: Vec<u128> = attempts.windows(2).map(|w| w[1].duration_since(w[0]).as_millis()).collect();
    assert!(gaps.len() >= 4, "{gaps:?}");
    for (n, gap) in gaps.iter().enumerate() {
        let scheduled = (initial_ms << n).min(max_ms);
        assert!(*gap >= scheduled * 8 / 10, "retry {n} came after {gap} ms, before the {scheduled} ms backoff: {gaps:?}");
        assert!(*gap <= max_ms * 12 / 10 + 1_500, "retry {n} came after {gap} ms, past the cap: {gaps:?}");
    }

    // The calm bot is still served.
    ann.send("calm", "after it all").await;
    calm.receiver.wait_for("the calm bot's next event", |e| e["message"]["text"] == "after it all").await;
}
