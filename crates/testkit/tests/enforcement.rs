//! Policy enforcement through HTTP: the operator warns, blocks and unblocks an app in
//! the console; the app hears of each action (`messaging_policy_enforcement`) on the
//! Pages it takes that field from; a blocked app's messaging writes are refused until
//! it is unblocked; only the operator acts, and bad input is refused in the console's
//! envelope.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const FIELDS: &str = "messages,messaging_policy_enforcement";

async fn enforce(server: &TestServer, token: &str, app: &TestApp, body: Value) -> (u16, Value) {
    let (status, answer) = server.console_as(token, Method::POST, &format!("/apps/{}/policy", app.id), body).await;
    (status.as_u16(), answer)
}

/// The app's policy events on `page`, in the order received.
fn policy_events(bot: &Bot, page: &str) -> Vec<Value> {
    bot.receiver.acknowledged_events().into_iter().filter(|e| e.get("policy_enforcement").is_some() && e["recipient"]["id"] == page).collect()
}

#[tokio::test]
async fn a_blocked_app_cannot_send_until_the_operator_unblocks_it() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    // The same app on a second Page of the same admin, taking the field there too.
    let mall = server.page(&bot.admin, "mall").await;
    let mall_token = server.grant(&mall, &bot.app, &bot.admin).await;
    server.install(&mall_token, &mall, FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    assert_eq!(server.send_text(&bot, &psid, "hi there").await.0, 200);

    // A warning: the app hears of it on both Pages, and may still send.
    let reason = "Your bot sent a message people reported as spam.";
    let (status, answer) = enforce(&server, &server.operator, &bot.app, json!({"action": "warning", "reason": reason})).await;
    assert_eq!((status, &answer), (200, &json!({"id": bot.app.id, "policy": "warned"})));
    for page in [&bot.page.id, &mall.id] {
        let event = bot.receiver.wait_for("the warning", |e| e["policy_enforcement"]["action"] == "warning" && e["recipient"]["id"] == page.as_str()).await;
        let timestamp = event["timestamp"].as_i64().expect("a timestamp");
        assert_eq!(event, json!({"recipient": {"id": page}, "timestamp": timestamp, "policy_enforcement": {"action": "warning", "reason": reason}}));
    }
    assert_eq!(server.send_text(&bot, &psid, "still here").await.0, 200);

    // A block: every messaging write of the app is refused with Meta's restriction.
    let (status, answer) = enforce(&server, &server.operator, &bot.app, json!({"action": "block", "reason": "Repeated spam."})).await;
    assert_eq!((status, &answer), (200, &json!({"id": bot.app.id, "policy": "blocked"})));
    bot.receiver.wait_for("the block", |e| e["policy_enforcement"] == json!({"action": "block", "reason": "Repeated spam."})).await;
    let (status, refused) = server.send_text(&bot, &psid, "let me through").await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!((&refused["error"]["code"], &refused["error"]["error_subcode"]), (&json!(10), &json!(1893063)), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().starts_with("(#10) You are temporarily restricted from sending messages"), "{refused}");
    let typing = json!({"recipient": {"id": psid}, "sender_action": "typing_on"});
    let (status, refused) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(typing)).await;
    assert_eq!((status, &refused["error"]["error_subcode"]), (400, &json!(1893063)), "sender actions too: {refused}");
    let pass = json!({"recipient": {"id": psid}, "target_app_id": 263902037430900u64});
    let (status, refused) = server.graph_call(Method::POST, "/me/pass_thread_control", Some(&bot.page_token), Some(pass)).await;
    assert_eq!((status, &refused["error"]["error_subcode"]), (400, &json!(1893063)), "thread control too: {refused}");
    // Reads still work.
    assert_eq!(server.graph_call(Method::GET, "/me/conversations", Some(&bot.page_token), None).await.0, 200);
    // Blocking again changes nothing, so it is refused.
    let (status, again) = enforce(&server, &server.operator, &bot.app, json!({"action": "block", "reason": "Again."})).await;
    assert_eq!((status, &again["error"]["code"]), (400, &json!(100)), "{again}");
    // The app's administrator sees the state and its history.
    let admin_session = server.sign_in(&bot.admin).await.token.clone();
    server.console(Method::POST, &format!("/apps/{}/roles", bot.app.id), json!({"person_id": bot.admin.id, "role": "administrator"})).await;
    let (_, shown) = server.console_as(&admin_session, Method::GET, &format!("/apps/{}", bot.app.id), json!({})).await;
    assert_eq!(shown["policy"], "blocked", "{shown}");
    let (_, audit) = server.console_as(&admin_session, Method::GET, &format!("/apps/{}/audit", bot.app.id), json!({})).await;
    let changes: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|r| r["change"].as_str().unwrap()).collect();
    assert_eq!(changes[changes.len() - 2..], [format!("policy warning: {reason}").as_str(), "policy block: Repeated spam."], "{audit}");

    // Unblocked: no reason in the event, and the app sends again.
    let (status, answer) = enforce(&server, &server.operator, &bot.app, json!({"action": "unblock"})).await;
    assert_eq!((status, &answer), (200, &json!({"id": bot.app.id, "policy": "clear"})));
    let event = bot.receiver.wait_for("the unblock", |e| e["policy_enforcement"]["action"] == "unblock" && e["recipient"]["id"] == bot.page.id.as_str()).await;
    assert_eq!(event["policy_enforcement"], json!({"action": "unblock"}), "{event}");
    assert!(event.get("sender").is_none(), "{event}");
    assert_eq!(server.send_text(&bot, &psid, "back again").await.0, 200);
    bot.receiver.wait_for("the unblock on the mall", |e| e["policy_enforcement"]["action"] == "unblock" && e["recipient"]["id"] == mall.id.as_str()).await;
    let actions = |page: &str| policy_events(&bot, page).iter().map(|e| e["policy_enforcement"]["action"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(actions(&bot.page.id), ["warning", "block", "unblock"], "one event per action, in order");
    assert_eq!(actions(&mall.id), ["warning", "block", "unblock"]);
}

#[tokio::test]
async fn only_the_operator_acts_and_bad_actions_are_refused() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    // The app's own administrator is not the operator.
    server.console(Method::POST, &format!("/apps/{}/roles", bot.app.id), json!({"person_id": bot.admin.id, "role": "administrator"})).await;
    let admin_session = server.sign_in(&bot.admin).await.token.clone();
    let (status, refused) = enforce(&server, &admin_session, &bot.app, json!({"action": "block", "reason": "self-harm"})).await;
    assert_eq!((status, &refused["error"]["code"]), (403, &json!(200)), "{refused}");
    // Access comes before the body: a non-operator learns nothing of what is wrong with it.
    let (status, refused) = enforce(&server, &admin_session, &bot.app, json!({"action": "ban"})).await;
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = enforce(&server, &bot.page_token, &bot.app, json!({"action": "block", "reason": "x"})).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(190)), "a Page token is no console credential: {refused}");

    let operator = server.operator.clone();
    let (status, refused) = enforce(&server, &operator, &bot.app, json!({"action": "ban", "reason": "x"})).await;
    assert_eq!((status, refused["error"]["code"].as_i64(), refused["error"]["message"].as_str()), (400, Some(100), Some("(#100) action must be warning, block or unblock")));
    let (status, refused) = enforce(&server, &operator, &bot.app, json!({"reason": "x"})).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(100)), "{refused}");
    let (status, refused) = enforce(&server, &operator, &bot.app, json!({"action": "block"})).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(100)), "a block says why: {refused}");
    let (status, refused) = enforce(&server, &operator, &bot.app, json!({"action": "warning", "reason": "x".repeat(1001)})).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(100)), "{refused}");
    let (status, refused) = enforce(&server, &operator, &bot.app, json!({"action": "unblock"})).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(100)), "not blocked: {refused}");
    let (status, refused) = server.console_as(&operator, Method::POST, "/apps/404404/policy", json!({"action": "warning", "reason": "x"})).await;
    assert_eq!((status.as_u16(), &refused["error"]["code"], &refused["error"]["error_subcode"]), (400, &json!(100), &json!(33)), "{refused}");
    // None of it changed the app: it still sends to nobody in particular, and is clear.
    let listed = server.console(Method::GET, "/apps", json!({})).await;
    let app = listed["data"].as_array().unwrap().iter().find(|a| a["id"] == bot.app.id.as_str()).unwrap().clone();
    assert_eq!(app["policy"], "clear", "{app}");
}
