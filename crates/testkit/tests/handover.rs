//! Several apps on one Page (the Handover Protocol) over real HTTP, with real
//! webhook receivers: receiver roles, every thread-control call and its refusals,
//! standby delivery, handover events in order with the messages around them, the
//! Page's routing of new threads, on both engines, and two nodes racing.
//!
//! The PostgreSQL tests need SWITCHBOARD_TEST_POSTGRES_URL (scripts/test sets it
//! up) and the built binaries (cargo build --workspace --bins).

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::{eventually, fresh_database, Bot, NodeProcess, TestServer};

const FIELDS: &str = "messages,message_echoes,messaging_postbacks,messaging_handovers,standby";
const PAGE_INBOX: &str = "263902037430900";

/// A Graph call's error as (code, subcode).
fn error_of(answer: &Value) -> (i64, Option<i64>) {
    (answer["error"]["code"].as_i64().unwrap_or_default(), answer["error"]["error_subcode"].as_i64())
}

async fn control(server: &TestServer, bot: &Bot, call: &str, body: Value) -> (u16, Value) {
    server.graph_call(Method::POST, &format!("/me/{call}"), Some(&bot.page_token), Some(body)).await
}

async fn owner(server: &TestServer, bot: &Bot, psid: &str) -> Option<String> {
    let (status, answer) = server.graph_call(Method::GET, &format!("/me/thread_owner?recipient={psid}"), Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"][0]["thread_owner"]["app_id"].as_str().map(str::to_string)
}

/// The whole protocol between a bot (the primary receiver) and a CRM (secondary).
async fn the_protocol(server: &TestServer) {
    let bot = server.bot("shop", FIELDS).await;
    let crm = server.join(&bot, "shop crm", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;

    // A new thread goes to the primary receiver (the first app installed); the
    // other app sees the message on standby, never both arrays in one entry.
    let first = ann.send("shop", "hello").await;
    let event = bot.receiver.wait_for("the message, to the owner", |e| e["message"]["mid"] == first["mid"]).await;
    let psid = event["sender"]["id"].as_str().unwrap().to_string();
    crm.receiver.wait_for_standby("the message, on standby", |e| e["message"]["mid"] == first["mid"]).await;
    assert_eq!(owner(server, &bot, &psid).await.as_deref(), Some(bot.app.id.as_str()));

    // Only the owner may send: the CRM is refused, on its own and in a batch.
    let (status, refused) = server.send_text(&crm, &psid, "me too").await;
    assert_eq!((status, error_of(&refused)), (400, (10, Some(2018300))), "{refused}");
    let item = json!({"method": "POST", "relative_url": "me/messages", "body": format!("recipient={{\"id\":\"{psid}\"}}&message={{\"text\":\"batched\"}}&messaging_type=RESPONSE")});
    let (status, answers) = server.graph_call(Method::POST, "/", Some(&crm.page_token), Some(json!({"batch": [item]}))).await;
    assert_eq!(status, 200, "{answers}");
    let body: Value = serde_json::from_str(answers[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!((answers[0]["code"].as_i64(), error_of(&body)), (Some(400), (10, Some(2018300))), "{body}");

    // The secondary receivers, for the primary only.
    let (status, secondaries) = server.graph_call(Method::GET, "/me/secondary_receivers?fields=id,name", Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{secondaries}");
    let ids: Vec<&str> = secondaries["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![crm.app.id.as_str(), PAGE_INBOX]);
    assert_eq!(secondaries["data"][0]["name"], "shop crm");
    let (status, refused) = server.graph_call(Method::GET, "/me/secondary_receivers", Some(&crm.page_token), None).await;
    assert_eq!((status, error_of(&refused)), (400, (10, Some(2018234))));

    // Passing, with target_app_id as a JSON number and metadata passed through.
    let target: u64 = crm.app.id.parse().unwrap();
    let (status, answer) = control(server, &bot, "pass_thread_control", json!({"recipient": {"id": psid}, "target_app_id": target, "metadata": "to the CRM é"})).await;
    assert_eq!((status, &answer), (200, &json!({"success": true})));
    let passed = crm.receiver.wait_for("pass_thread_control", |e| e.get("pass_thread_control").is_some()).await;
    assert_eq!(
        passed["pass_thread_control"],
        json!({"previous_owner_app_id": bot.app.id, "new_owner_app_id": crm.app.id, "metadata": "to the CRM é"})
    );
    assert_eq!(passed["sender"]["id"], psid.as_str());
    assert_eq!(owner(server, &crm, &psid).await.as_deref(), Some(crm.app.id.as_str()));

    // Now the CRM owns it: messages go to it, the bot is on standby and refused.
    let second = ann.send("shop", "second").await;
    crm.receiver.wait_for("the second message, to the CRM", |e| e["message"]["mid"] == second["mid"]).await;
    bot.receiver.wait_for_standby("the second message, on standby", |e| e["message"]["mid"] == second["mid"]).await;
    let (status, refused) = server.send_text(&bot, &psid, "still me").await;
    assert_eq!((status, error_of(&refused)), (400, (10, Some(2018300))));
    let (status, sent) = server.send_text(&crm, &psid, "the CRM answers").await;
    assert_eq!(status, 200, "{sent}");
    let echo = bot.receiver.wait_for_standby("the CRM's echo, on standby", |e| e["message"]["mid"] == sent["message_id"]).await;
    assert_eq!(echo["message"]["app_id"], json!(target));

    // A secondary cannot take a thread another app owns; the primary can.
    let (status, refused) = control(server, &crm, "take_thread_control", json!({"recipient": {"id": psid}})).await;
    assert_eq!(status, 200, "the CRM owns it already: {refused}");
    let (status, answer) = control(server, &bot, "take_thread_control", json!({"recipient": {"id": psid}, "metadata": "the bot resumes"})).await;
    assert_eq!((status, &answer), (200, &json!({"success": true})));
    let taken = crm.receiver.wait_for("take_thread_control", |e| e.get("take_thread_control").is_some()).await;
    assert_eq!(taken["take_thread_control"], json!({"previous_owner_app_id": crm.app.id, "new_owner_app_id": bot.app.id, "metadata": "the bot resumes"}));
    let (status, refused) = control(server, &crm, "take_thread_control", json!({"recipient": {"id": psid}})).await;
    assert_eq!((status, error_of(&refused)), (400, (100, Some(2534037))), "{refused}");

    // A request reaches the owner, with the requester's id as a number.
    let (status, _) = control(server, &crm, "request_thread_control", json!({"recipient": {"id": psid}, "metadata": "may I?"})).await;
    assert_eq!(status, 200);
    let request = bot.receiver.wait_for("request_thread_control", |e| e.get("request_thread_control").is_some()).await;
    assert_eq!(request["request_thread_control"], json!({"requested_owner_app_id": target, "metadata": "may I?"}));

    // Wrong targets and recipients.
    let (_, refused) = control(server, &bot, "pass_thread_control", json!({"recipient": {"id": psid}, "target_app_id": "999999"})).await;
    assert_eq!(error_of(&refused), (100, Some(2018164)));
    let (_, refused) = control(server, &bot, "pass_thread_control", json!({"recipient": {"id": psid}, "target_app_id": bot.app.id})).await;
    assert_eq!(error_of(&refused), (100, Some(2018164)), "not to itself");
    let (_, refused) = control(server, &bot, "pass_thread_control", json!({"recipient": {"id": "12345"}, "target_app_id": target})).await;
    assert_eq!(error_of(&refused), (100, Some(2018001)), "a PSID of no one on this Page");

    // Released, the thread is idle: every app gets messages under `messaging`, and may send.
    let (status, _) = control(server, &bot, "release_thread_control", json!({"recipient": {"id": psid}})).await;
    assert_eq!(status, 200);
    assert_eq!(owner(server, &bot, &psid).await, None);
    let third = ann.send("shop", "third").await;
    bot.receiver.wait_for("the third message, idle", |e| e["message"]["mid"] == third["mid"]).await;
    crm.receiver.wait_for("the third message, idle", |e| e["message"]["mid"] == third["mid"]).await;
    let (status, _) = server.send_text(&crm, &psid, "anyone may answer now").await;
    assert_eq!(status, 200);

    // Roles set by the Page's admin: each app whose role changed is told.
    let set_role = |app: String, role: &'static str| {
        let path = format!("/pages/{}/receivers/{app}", bot.page.id);
        async move { server.console(Method::POST, &path, json!({"role": role})).await }
    };
    let view = set_role(crm.app.id.clone(), "primary_receiver").await;
    let role_of = |id: &str| view["data"].as_array().unwrap().iter().find(|r| r["id"] == id).map(|r| r["role"].clone());
    assert_eq!(role_of(&crm.app.id), Some(json!("primary_receiver")), "{view}");
    assert_eq!(role_of(&bot.app.id), Some(json!("secondary_receiver")), "{view}");
    assert_eq!(role_of(PAGE_INBOX), Some(json!("secondary_receiver")), "{view}");
    let roles = bot.receiver.wait_for("app_roles, demoted", |e| e.get("app_roles").is_some()).await;
    assert_eq!(roles["app_roles"], json!({bot.app.id.clone(): ["secondary_receiver"]}));
    assert!(roles.get("sender").is_none());
    let roles = crm.receiver.wait_for("app_roles, promoted", |e| e.get("app_roles").is_some()).await;
    assert_eq!(roles["app_roles"], json!({crm.app.id.clone(): ["primary_receiver"]}));
    set_role(bot.app.id.clone(), "none").await;
    let (_, refused) = control(server, &bot, "take_thread_control", json!({"recipient": {"id": psid}})).await;
    assert_eq!(error_of(&refused), (10, Some(2018171)), "an app with no role: {refused}");

    // Each app saw its story in order: messages and handover events interleaved as they happened.
    let story: Vec<String> = crm
        .receiver
        .acknowledged_channels()
        .into_iter()
        .map(|(channel, e)| {
            let what = e["message"]["text"].as_str().map(str::to_string).or_else(|| {
                ["pass_thread_control", "take_thread_control", "app_roles"].iter().find(|k| e.get(**k).is_some()).map(|k| k.to_string())
            });
            format!("{channel}:{}", what.unwrap_or_default())
        })
        .collect();
    let expected = [
        "standby:hello",
        "messaging:pass_thread_control",
        "messaging:second",
        "messaging:the CRM answers",
        "messaging:take_thread_control",
        "messaging:third",
        "messaging:anyone may answer now",
        "messaging:app_roles",
    ];
    assert_eq!(story, expected, "the CRM's events in order");
}

#[tokio::test]
async fn the_protocol_on_sqlite() {
    let server = TestServer::start().await;
    the_protocol(&server).await;
}

#[tokio::test]
async fn the_protocol_on_postgres() {
    let database = fresh_database("handover").await;
    let server = TestServer::start_with(|settings| settings.database_url = Some(database)).await;
    the_protocol(&server).await;
}

#[tokio::test]
async fn a_tap_on_standby_has_no_payload_and_a_link_routes_its_thread() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let crm = server.join(&bot, "shop crm", FIELDS).await;
    let (status, _) = server
        .graph_call(Method::POST, "/me/messenger_profile", Some(&bot.page_token), Some(json!({"get_started": {"payload": "START"}})))
        .await;
    assert_eq!(status, 200);

    // Ann opens the Page plainly: the thread is the bot's, the CRM sees the tap without its payload.
    let ann = server.sign_in(&server.person("ann").await).await;
    let (status, tap) = ann.call(Method::POST, "/threads/shop/get-started", Some(json!({}))).await;
    assert_eq!(status, 200, "{tap}");
    let owned = bot.receiver.wait_for("the tap, to the owner", |e| e["postback"]["mid"] == tap["mid"]).await;
    assert_eq!(owned["postback"]["payload"], "START");
    let standby = crm.receiver.wait_for_standby("the tap, on standby", |e| e["postback"]["mid"] == tap["mid"]).await;
    assert_eq!(standby["postback"]["title"], "Get Started");
    assert!(standby["postback"].get("payload").is_none(), "{standby}");

    // The Page routes threads opened by links with ref=sales to the CRM.
    let view = server.console(Method::POST, &format!("/pages/{}/routing", bot.page.id), json!({"ref": "sales", "app_id": crm.app.id})).await;
    assert_eq!(view["routing"], json!([{"ref": "sales", "app_id": crm.app.id}]));
    let bob = server.sign_in(&server.person("bob").await).await;
    let (status, tap) = bob.call(Method::POST, "/threads/shop/get-started", Some(json!({"ref": "sales"}))).await;
    assert_eq!(status, 200, "{tap}");
    let routed = crm.receiver.wait_for("the tap, to the CRM", |e| e["postback"]["mid"] == tap["mid"]).await;
    assert_eq!(routed["postback"]["referral"]["ref"], "sales");
    let psid = routed["sender"]["id"].as_str().unwrap();
    assert_eq!(owner(&server, &bot, psid).await.as_deref(), Some(crm.app.id.as_str()));
    bot.receiver.wait_for_standby("the routed tap, on standby", |e| e["postback"]["mid"] == tap["mid"]).await;
}

#[tokio::test]
async fn an_agent_takes_answers_and_hands_back_in_the_inbox() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let carol = server.person("carol").await;
    server.console(Method::POST, &format!("/pages/{}/roles", bot.page.id), json!({"login": "carol", "role": "agent"})).await;
    let carol_token = server.sign_in(&carol).await.token.clone();
    let as_carol = |method: Method, path: String, body: Value| {
        let token = carol_token.clone();
        let server = &server;
        async move {
            let (status, value) = server.console_as(&token, method, &path, body).await;
            (status.as_u16(), value)
        }
    };

    let hello = ann.send("shop", "I need a person").await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["mid"] == hello["mid"]).await["sender"]["id"].as_str().unwrap().to_string();
    let (status, _) = control(&server, &bot, "pass_thread_control", json!({"recipient": {"id": psid}, "target_app_id": PAGE_INBOX, "metadata": "human please"})).await;
    assert_eq!(status, 200);

    // The agent sees the thread waiting; an agent changes no settings.
    let (status, pages) = as_carol(Method::GET, "/inbox".into(), Value::Null).await;
    assert_eq!(status, 200, "{pages}");
    assert_eq!(pages["data"], json!([{"id": bot.page.id, "name": "Page shop", "username": "shop", "role": "agent", "waiting": 1}]));
    let (status, threads) = as_carol(Method::GET, format!("/pages/{}/inbox", bot.page.id), Value::Null).await;
    assert_eq!(status, 200, "{threads}");
    assert_eq!(threads["data"][0]["state"], "waiting");
    assert_eq!(threads["data"][0]["psid"], psid.as_str());
    assert_eq!(threads["data"][0]["unread"], 1);
    let (status, _) = as_carol(Method::GET, format!("/pages/{}/receivers", bot.page.id), Value::Null).await;
    assert_eq!(status, 403, "receivers are the admins'");

    // She takes it and answers; the person sees it, the bot gets the echo on standby.
    let (status, taken) = as_carol(Method::POST, format!("/pages/{}/inbox/{psid}/take", bot.page.id), json!({})).await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!((taken["state"].as_str(), taken["can_send"].as_bool()), (Some("agent"), Some(true)));
    assert_eq!(taken["agent"]["name"], "Carol Tester");
    let (status, sent) = as_carol(Method::POST, format!("/pages/{}/inbox/{psid}/messages", bot.page.id), json!({"text": "Carol here, how can I help?"})).await;
    assert_eq!(status, 200, "{sent}");
    let history = ann.history("shop").await;
    assert_eq!(history["messages"].as_array().unwrap().last().unwrap()["text"], "Carol here, how can I help?");
    let echo = bot.receiver.wait_for_standby("the agent's echo", |e| e["message"]["mid"] == sent["mid"]).await;
    assert_eq!(echo["message"]["app_id"], json!(263902037430900u64));

    // While the inbox has it, the bot is on standby and may not answer.
    let more = ann.send("shop", "my order is late").await;
    bot.receiver.wait_for_standby("the person, on standby", |e| e["message"]["mid"] == more["mid"]).await;
    let (status, refused) = server.send_text(&bot, &psid, "bot here").await;
    assert_eq!((status, error_of(&refused)), (400, (10, Some(2018300))));

    // Handed back: the bot is told, and owns the thread again.
    let (status, back) = as_carol(Method::POST, format!("/pages/{}/inbox/{psid}/hand-back", bot.page.id), json!({})).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["state"], "bot");
    let passed = bot.receiver.wait_for("the thread comes back", |e| e.get("pass_thread_control").is_some()).await;
    assert_eq!(passed["pass_thread_control"]["previous_owner_app_id"], PAGE_INBOX);
    assert_eq!(passed["pass_thread_control"]["new_owner_app_id"], bot.app.id.as_str());
    assert_eq!(owner(&server, &bot, &psid).await.as_deref(), Some(bot.app.id.as_str()));

    // An agent takes a thread the bot holds: the bot is told with take_thread_control.
    let (status, _) = as_carol(Method::POST, format!("/pages/{}/inbox/{psid}/take", bot.page.id), json!({})).await;
    assert_eq!(status, 200);
    let taken = bot.receiver.wait_for("take_thread_control", |e| e.get("take_thread_control").is_some()).await;
    assert_eq!(taken["take_thread_control"]["new_owner_app_id"], PAGE_INBOX);

    // A stranger has no inbox here.
    let dave = server.sign_in(&server.person("dave").await).await.token.clone();
    let (status, _) = server.console_as(&dave, Method::GET, &format!("/pages/{}/inbox", bot.page.id), Value::Null).await;
    assert_eq!(status.as_u16(), 403);
}

/// Two nodes race: the CRM passes the thread to a survey app through one node while
/// the bot (primary) takes it through the other. Each round ends with one owner, and
/// the events tell the story of the call that won first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_to_pass_and_take_agree_on_one_owner() {
    let database = fresh_database("handover_race").await;
    let a = NodeProcess::start("node-a", &database, 5).await;
    let b = NodeProcess::start("node-b", &database, 5).await;
    let operator = a.operator.clone().unwrap();
    let via_a = TestServer::external(&a.url, &operator);
    let via_b = TestServer::external(&b.url, &operator);
    let bot = via_a.bot("shop", FIELDS).await;
    let crm = via_a.join(&bot, "shop crm", FIELDS).await;
    let survey = via_a.join(&bot, "shop survey", FIELDS).await;
    let ann = via_b.sign_in(&via_b.person("ann").await).await;
    let hello = ann.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["mid"] == hello["mid"]).await["sender"]["id"].as_str().unwrap().to_string();

    const ROUNDS: usize = 12;
    for round in 0..ROUNDS {
        // The bot hands the thread to the CRM; then the race.
        let (status, answer) = control(&via_a, &bot, "pass_thread_control", json!({"recipient": {"id": psid}, "target_app_id": crm.app.id, "metadata": format!("setup {round}")})).await;
        assert_eq!(status, 200, "{answer}");
        let pass = control(&via_a, &crm, "pass_thread_control", json!({"recipient": {"id": psid}, "target_app_id": survey.app.id, "metadata": format!("pass {round}")}));
        let take = control(&via_b, &bot, "take_thread_control", json!({"recipient": {"id": psid}, "metadata": format!("take {round}")}));
        let ((pass_status, pass_answer), (take_status, take_answer)) = tokio::join!(pass, take);
        assert_eq!(take_status, 200, "the primary always takes: {take_answer}");
        assert_eq!(owner(&via_b, &bot, &psid).await.as_deref(), Some(bot.app.id.as_str()), "round {round}: one owner");
        let take_metadata = format!("take {round}");
        eprintln!("round {round}: the pass {}", if pass_status == 200 { "came first" } else { "lost" });
        if pass_status == 200 {
            // The pass came first: the survey got the thread, then lost it to the bot.
            let passed = survey.receiver.wait_for("the pass", |e| e["pass_thread_control"]["metadata"] == format!("pass {round}").as_str()).await;
            assert_eq!(passed["pass_thread_control"]["previous_owner_app_id"], crm.app.id.as_str());
            let taken = survey.receiver.wait_for("the take, from the survey", |e| e["take_thread_control"]["metadata"] == take_metadata.as_str()).await;
            assert_eq!(taken["take_thread_control"]["previous_owner_app_id"], survey.app.id.as_str());
        } else {
            // The take came first: the CRM's pass was refused, and the CRM was told it lost the thread.
            assert_eq!(error_of(&pass_answer), (100, Some(2534037)), "{pass_answer}");
            crm.receiver.wait_for("the take, from the CRM", |e| e["take_thread_control"]["metadata"] == take_metadata.as_str()).await;
        }
    }
    // No app was told of a take that did not happen, or twice.
    let takes = |bot: &Bot| bot.receiver.acknowledged_events().into_iter().filter(|e| e.get("take_thread_control").is_some()).count();
    eventually("every take told once", || {
        let total = takes(&crm) + takes(&survey);
        async move { (total == ROUNDS).then_some(()) }
    })
    .await;
}

/// Messenger's human-agent policy: an agent may answer up to seven days after the
/// person's last message; after that the inbox says why it cannot.
#[tokio::test]
async fn an_agent_answers_within_seven_days_of_the_persons_last_message() {
    let clock = switchboard_testkit::ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let admin = server.sign_in(&bot.admin).await.token.clone();
    let hello = ann.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("the message", |e| e["message"]["mid"] == hello["mid"]).await["sender"]["id"].as_str().unwrap().to_string();
    let inbox = format!("/pages/{}/inbox/{psid}", bot.page.id);
    let (status, taken) = server.console_as(&admin, Method::POST, &format!("{inbox}/take"), json!({})).await;
    assert_eq!(status.as_u16(), 200, "an admin works in the inbox too: {taken}");

    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    clock.advance(DAY * 6);
    let (status, _) = server.console_as(&admin, Method::POST, &format!("{inbox}/messages"), json!({"text": "six days later"})).await;
    assert_eq!(status.as_u16(), 200, "within the human-agent window");
    clock.advance(DAY * 2);
    let (_, conversation) = server.console_as(&admin, Method::GET, &inbox, Value::Null).await;
    assert_eq!(conversation["can_send"], false);
    assert!(conversation["cannot_send_reason"].as_str().unwrap().contains("7 days"), "{conversation}");
    let (status, refused) = server.console_as(&admin, Method::POST, &format!("{inbox}/messages"), json!({"text": "eight days later"})).await;
    assert_eq!((status.as_u16(), refused["error"]["code"].as_i64()), (403, Some(10)), "{refused}");
    // The person writes again: the window opens again.
    ann.send("shop", "still there?").await;
    let (status, _) = server.console_as(&admin, Method::POST, &format!("{inbox}/messages"), json!({"text": "yes!"})).await;
    assert_eq!(status.as_u16(), 200);
}
