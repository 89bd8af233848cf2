//! Entry points and account linking through HTTP: the Send to Messenger and checkbox
//! plugins' opt-ins (with each event's exact shape), sending by `user_ref` once,
//! referrals into existing threads, the chat plugin's Get Started, who may see a
//! plugin (whitelisted origins, development mode), and account linking from the
//! button to the site and back, with `unlink_accounts`. Every refusal is checked.

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_SECURITY_POLICY, LOCATION, ORIGIN};
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const FIELDS: &str = "messages,message_echoes,messaging_postbacks,messaging_optins,messaging_referrals,messaging_account_linking";
const SITE: &str = "https://shop.example.com";
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

async fn whitelist(server: &TestServer, bot: &Bot, domains: Value) {
    let (status, answer) =
        server.graph_call(Method::POST, "/me/messenger_profile", Some(&bot.page_token), Some(json!({"whitelisted_domains": domains}))).await;
    assert_eq!(status, 200, "whitelisting: {answer}");
}

/// A live bot whose Page whitelists [`SITE`], and a signed-in person.
async fn shop(server: &TestServer, username: &str, login: &str) -> (Bot, PersonClient) {
    let bot = server.bot(username, FIELDS).await;
    whitelist(server, &bot, json!([SITE])).await;
    (bot, server.sign_in(&server.person(login).await).await)
}

fn plugin_action(bot: &Bot, extra: Value) -> Value {
    let mut body = json!({"app_id": bot.app.id, "page_id": bot.page.id, "origin": SITE});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

fn keys(event: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = event.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort();
    keys
}

fn refused(answer: &(u16, Value), status: u16, code: i64, subcode: Option<i64>, says: &str) {
    let error = &answer.1["error"];
    assert_eq!(answer.0, status, "{answer:?}");
    assert_eq!(error["code"], code, "{answer:?}");
    assert_eq!(error["error_subcode"].as_i64(), subcode, "{answer:?}");
    assert!(error["message"].as_str().unwrap_or("").contains(says), "{says:?} in {answer:?}");
}

async fn send(server: &TestServer, bot: &Bot, recipient: Value, text: &str) -> (u16, Value) {
    let body = json!({"recipient": recipient, "messaging_type": "RESPONSE", "message": {"text": text}});
    server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await
}

async fn advance(server: &TestServer, ms: i64) {
    server.console(Method::POST, "/clock", json!({"advance_ms": ms})).await;
}

#[tokio::test]
async fn send_to_messenger_opens_the_thread_with_its_ref() {
    let server = TestServer::start().await;
    let (bot, ann) = shop(&server, "hats", "ann").await;
    let (status, opened) = ann.call(Method::POST, "/plugins/send_to_messenger", Some(plugin_action(&bot, json!({"ref": "spring-sale/hat=42"})))).await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["page"]["id"], bot.page.id);

    let optin = bot.receiver.wait_for("the plugin's opt-in", |e| e.get("optin").is_some()).await;
    assert_eq!(keys(&optin), ["optin", "recipient", "sender", "timestamp"]);
    assert_eq!(optin["optin"], json!({"ref": "spring-sale/hat=42"}), "only the ref: no type, no payload");
    assert_eq!(optin["recipient"], json!({"id": bot.page.id}));
    let psid = optin["sender"]["id"].as_str().expect("a PSID").to_string();

    // The thread is open: the window too, and the person lists it.
    let (status, sent) = send(&server, &bot, json!({"id": psid}), "Thanks for the click!").await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["recipient_id"], psid);
    let (_, threads) = ann.call(Method::GET, "/threads", None).await;
    assert!(threads["data"].as_array().expect("threads").iter().any(|t| t["page"]["id"] == bot.page.id), "{threads}");

    // Refusals, each in the Graph envelope.
    let elsewhere = plugin_action(&bot, json!({"origin": "https://evil.example"}));
    refused(&ann.call(Method::POST, "/plugins/send_to_messenger", Some(elsewhere)).await, 403, 10, None, "whitelisted_domains");
    let bad_ref = plugin_action(&bot, json!({"ref": "two words"}));
    refused(&ann.call(Method::POST, "/plugins/send_to_messenger", Some(bad_ref)).await, 400, 100, None, "ref must be");
    let no_app = plugin_action(&bot, json!({"app_id": "999999999"}));
    refused(&ann.call(Method::POST, "/plugins/send_to_messenger", Some(no_app)).await, 400, 100, Some(33), "999999999");
    let stranger = server.app("not installed").await;
    let not_installed = plugin_action(&bot, json!({"app_id": stranger.id}));
    refused(&ann.call(Method::POST, "/plugins/send_to_messenger", Some(not_installed)).await, 400, 100, None, "not subscribed");
}

#[tokio::test]
async fn a_checkbox_user_ref_takes_one_message_until_the_person_answers() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let (bot, ann) = shop(&server, "boots", "ann").await;
    let confirm = |user_ref: &str| plugin_action(&bot, json!({"user_ref": user_ref, "ref": "checkout"}));
    let (status, answer) = ann.call(Method::POST, "/plugins/checkbox", Some(confirm("order-42"))).await;
    assert_eq!((status, &answer), (200, &json!({"success": true})));

    let optin = bot.receiver.wait_for("the checkbox opt-in", |e| e["optin"]["user_ref"] == "order-42").await;
    assert_eq!(keys(&optin), ["optin", "recipient", "timestamp"], "no sender: the person has no PSID yet");
    assert_eq!(optin["optin"], json!({"ref": "checkout", "user_ref": "order-42"}));
    refused(&ann.call(Method::POST, "/plugins/checkbox", Some(confirm("order-42"))).await, 400, 100, None, "confirmed already");
    refused(&ann.call(Method::POST, "/plugins/checkbox", Some(confirm("with space"))).await, 400, 100, None, "user_ref must be");

    // One message by user_ref: no recipient_id in the answer, no echo.
    let (status, sent) = send(&server, &bot, json!({"user_ref": "order-42"}), "Your order is confirmed").await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent["message_id"].is_string() && sent.get("recipient_id").is_none(), "{sent}");
    let history = ann.history("boots").await;
    assert_eq!(history["messages"][0]["text"], "Your order is confirmed", "{history}");
    refused(&send(&server, &bot, json!({"user_ref": "order-42"}), "again").await, 400, 100, Some(2018001), "takes one message");
    refused(&send(&server, &bot, json!({"user_ref": "never-seen"}), "hi").await, 400, 100, Some(2018001), "No matching user found");

    // The person answers: their PSID arrives, and the bot goes on by it.
    ann.send("boots", "thanks!").await;
    let answer = bot.receiver.wait_for("ann's answer", |e| e["message"]["text"] == "thanks!").await;
    let psid = answer["sender"]["id"].as_str().expect("psid");
    assert_eq!(send(&server, &bot, json!({"id": psid}), "You're welcome").await.0, 200);
    // The thread's events arrive in order: an echo of the first send would be here by now.
    bot.receiver.wait_for("the echo of the PSID send", |e| e["message"]["text"] == "You're welcome").await;
    let echoes: Vec<Value> = bot.receiver.acknowledged_events().into_iter().filter(|e| e["message"]["is_echo"] == true).collect();
    assert!(echoes.iter().all(|e| e["message"]["text"] != "Your order is confirmed"), "sends by user_ref have no echo: {echoes:?}");

    // A user_ref not used within a day expires.
    let (status, _) = ann.call(Method::POST, "/plugins/checkbox", Some(confirm("order-43"))).await;
    assert_eq!(status, 200);
    advance(&server, 24 * HOUR_MS + MINUTE_MS).await;
    refused(&send(&server, &bot, json!({"user_ref": "order-43"}), "late").await, 400, 100, Some(2018001), "No matching user found");

    // A script confirming in a loop is stopped, as Meta stops opt-in spam.
    for n in 0..20 {
        let (status, answer) = ann.call(Method::POST, "/plugins/checkbox", Some(confirm(&format!("loop-{n}")))).await;
        assert_eq!(status, 200, "{n}: {answer}");
    }
    refused(&ann.call(Method::POST, "/plugins/checkbox", Some(confirm("loop-20"))).await, 400, 9, Some(2018352), "too many actions");
}

#[tokio::test]
async fn a_link_into_an_existing_thread_sends_a_referral_and_reopens_the_window() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let (bot, ann) = shop(&server, "scarves", "ann").await;
    let referral = |body: Value| ann.call(Method::POST, "/threads/scarves/referral", Some(body));
    refused(&referral(json!({"ref": "promo"})).await, 400, 100, None, "Get Started");

    ann.send("scarves", "hello").await;
    let psid = bot.receiver.wait_for("hello", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    advance(&server, 25 * HOUR_MS).await;
    assert_eq!(send(&server, &bot, json!({"id": psid}), "late").await.0, 400, "the window has closed");

    assert_eq!(referral(json!({"ref": "winter-promo"})).await.0, 200);
    let event = bot.receiver.wait_for("the link's referral", |e| e.get("referral").is_some()).await;
    assert_eq!(keys(&event), ["recipient", "referral", "sender", "timestamp"]);
    assert_eq!(event["sender"]["id"], psid);
    assert_eq!(event["referral"], json!({"ref": "winter-promo", "source": "SHORTLINK", "type": "OPEN_THREAD"}));
    assert_eq!(send(&server, &bot, json!({"id": psid}), "welcome back").await.0, 200, "a referral reopens the window");

    let from_plugin = json!({"ref": "faq", "source": "CUSTOMER_CHAT_PLUGIN", "referer_uri": "https://shop.example.com/faq"});
    assert_eq!(referral(from_plugin).await.0, 200);
    let event = bot.receiver.wait_for("the chat plugin's referral", |e| e["referral"]["ref"] == "faq").await;
    assert_eq!(
        event["referral"],
        json!({"ref": "faq", "source": "CUSTOMER_CHAT_PLUGIN", "type": "OPEN_THREAD", "referer_uri": "https://shop.example.com/faq"})
    );
    refused(&referral(json!({"ref": "x", "source": "ADS"})).await, 400, 100, None, "source must be");
    refused(&referral(json!({"ref": "x", "referer_uri": "javascript:alert(1)"})).await, 400, 100, None, "referer_uri");
    refused(&referral(json!({"ref": "<b>"})).await, 400, 100, None, "ref must be");
}

#[tokio::test]
async fn the_chat_plugin_starts_a_new_thread_with_its_referral_on_get_started() {
    let server = TestServer::start().await;
    let (bot, ann) = shop(&server, "gloves", "ann").await;
    let (status, _) =
        server.graph_call(Method::POST, "/me/messenger_profile", Some(&bot.page_token), Some(json!({"get_started": {"payload": "START"}}))).await;
    assert_eq!(status, 200);
    let body = json!({"ref": "home", "source": "CUSTOMER_CHAT_PLUGIN", "referer_uri": "https://shop.example.com/"});
    let (status, answer) = ann.call(Method::POST, "/threads/gloves/get-started", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    let event = bot.receiver.wait_for("Get Started", |e| e["postback"]["payload"] == "START").await;
    assert_eq!(
        event["postback"]["referral"],
        json!({"ref": "home", "source": "CUSTOMER_CHAT_PLUGIN", "type": "OPEN_THREAD", "referer_uri": "https://shop.example.com/"})
    );
}

#[tokio::test]
async fn plugins_show_only_on_whitelisted_origins_and_in_development_only_to_role_holders() {
    let server = TestServer::start().await;
    // A development-mode app, installed on its Page.
    let admin = server.person("dev-admin").await;
    let page = server.page(&admin, "lab").await;
    let app = server.app("lab bot").await;
    let page_token = server.grant(&page, &app, &admin).await;
    let receiver = WebhookReceiver::start(&app.secret).await;
    server.subscribe(&app, &receiver, FIELDS).await;
    server.install(&page_token, &page, FIELDS).await;
    let (status, _) = server
        .graph_call(Method::POST, "/me/messenger_profile", Some(&page_token), Some(json!({"whitelisted_domains": [SITE, "http://127.0.0.1:8080"]})))
        .await;
    assert_eq!(status, 200);

    // The script's check, by the browser's Origin, answered to that origin only.
    let check = |origin: &'static str| {
        server.http.get(format!("{}/plugins/v1/check?app_id={}&page_id={}", server.url, app.id, page.id)).header(ORIGIN, origin).send()
    };
    let allowed = check(SITE).await.expect("the check answers");
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], SITE);
    assert_eq!(allowed.json::<Value>().await.unwrap(), json!({"ok": true, "app_mode": "development"}));
    let denied = check("https://evil.example").await.expect("the check answers");
    assert_eq!(denied.status(), 403);
    assert_eq!(denied.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://evil.example", "the script may read why");
    assert!(denied.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("whitelisted_domains"));

    // Plugin pages may be framed by exactly the whitelisted origins.
    for plugin in ["send_to_messenger", "checkbox", "customerchat"] {
        let framed = server.http.get(format!("{}/plugins/{plugin}?page_id={}&app_id={}", server.url, page.id, app.id)).send().await.unwrap();
        let policy = framed.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(policy.contains("frame-ancestors https://shop.example.com http://127.0.0.1:8080;"), "{plugin}: {policy}");
    }
    let unknown = server.http.get(format!("{}/plugins/checkbox?page_id=404404", server.url)).send().await.unwrap();
    assert!(unknown.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));

    // In development mode a person without a role sees nothing; a tester does.
    let ann = server.person("ann").await;
    let ann_client = server.sign_in(&ann).await;
    let access = format!("/plugins/access?app_id={}&page_id={}&origin={}", app.id, page.id, percent_encode(SITE));
    refused(&ann_client.call(Method::GET, &access, None).await, 403, 10, None, "development mode");
    let body = json!({"app_id": app.id, "page_id": page.id, "origin": SITE, "ref": "x"});
    refused(&ann_client.call(Method::POST, "/plugins/send_to_messenger", Some(body.clone())).await, 403, 10, None, "development mode");
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": ann.id, "role": "tester"})).await;
    let (status, seen) = ann_client.call(Method::GET, &access, None).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!((seen["page"]["id"].as_str(), seen["app_mode"].as_str()), (Some(page.id.as_str()), Some("development")));
    assert_eq!(ann_client.call(Method::POST, "/plugins/send_to_messenger", Some(body)).await.0, 200);

    // The script itself.
    let script = server.http.get(format!("{}/sdk.js", server.url)).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("MessengerCheckboxUserConfirmation"));
}

/// The query parameter `name` of a URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn account_linking_goes_to_the_site_and_back_once() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let (bot, ann) = shop(&server, "bank", "ann").await;
    ann.send("bank", "hi").await;
    let psid = bot.receiver.wait_for("hi", |e| e["message"]["text"] == "hi").await["sender"]["id"].as_str().unwrap().to_string();
    let buttons = json!({"attachment": {"type": "template", "payload": {"template_type": "button", "text": "Link your account",
        "buttons": [{"type": "account_link", "url": "https://bank.example.com/authorize?from=bot"}, {"type": "account_unlink"}]}}});
    let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": buttons});
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
    assert_eq!(status, 200, "{sent}");
    let mid = sent["message_id"].as_str().unwrap().to_string();
    let tap = |button: &str| json!({"mid": mid, "button": button});
    refused(&ann.call(Method::POST, "/threads/bank/account_linking", Some(tap("/buttons/1"))).await, 400, 100, None, "no account_link button");

    // Tapping the button: the site's URL with a token and where to send the person back.
    let (status, started) = ann.call(Method::POST, "/threads/bank/account_linking", Some(tap("/buttons/0"))).await;
    assert_eq!(status, 200, "{started}");
    let url = started["url"].as_str().unwrap();
    assert!(url.starts_with("https://bank.example.com/authorize?from=bot&account_linking_token="), "{url}");
    let token = query_param(url, "account_linking_token").expect("a token");
    let redirect_uri = query_param(url, "redirect_uri").expect("a redirect_uri");
    assert!(redirect_uri.starts_with(&format!("{}/messenger_platform/account_linking/?account_linking_token=", server.url)), "{redirect_uri}");

    // The site asks who it is, by GET or POST (fbmessenger), with the Page token only.
    let lookup = format!("/me?fields=recipient&account_linking_token={}", percent_encode(&token));
    for method in [Method::GET, Method::POST] {
        let (status, who) = server.graph_call(method, &lookup, Some(&bot.page_token), None).await;
        assert_eq!((status, who), (200, json!({"id": bot.page.id, "recipient": psid})));
    }
    let other = server.bot("other-bank", FIELDS).await;
    refused(&server.graph_call(Method::GET, &lookup, Some(&other.page_token), None).await, 400, 10303, None, "Invalid account_linking_token");
    refused(&server.graph_call(Method::GET, "/me?fields=recipient&account_linking_token=forged", Some(&bot.page_token), None).await, 400, 10303, None, "account_linking_token");

    // The site sends the person back with its code: linked, once.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = no_redirects.get(format!("{redirect_uri}&authorization_code=ann-7")).send().await.unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()[LOCATION], format!("/m/{}?account_linking=linked", bot.page.id));
    let linked = bot.receiver.wait_for("linked", |e| e.get("account_linking").is_some()).await;
    assert_eq!(keys(&linked), ["account_linking", "recipient", "sender", "timestamp"]);
    assert_eq!((linked["sender"]["id"].as_str(), &linked["account_linking"]), (Some(psid.as_str()), &json!({"status": "linked", "authorization_code": "ann-7"})));
    assert_eq!(ann.history("bank").await["account_linked"], true);
    let again = no_redirects.get(format!("{redirect_uri}&authorization_code=ann-8")).send().await.unwrap();
    assert_eq!(again.headers()[LOCATION], format!("/m/{}?account_linking=expired", bot.page.id), "a token ends once");
    refused(&server.graph_call(Method::GET, &lookup, Some(&bot.page_token), None).await, 400, 10303, None, "account_linking_token");

    // The bot unlinks.
    let (status, answer) = server.graph_call(Method::POST, "/me/unlink_accounts", Some(&bot.page_token), Some(json!({"psid": psid}))).await;
    assert_eq!((status, answer), (200, json!({"result": "unlink account success"})));
    let unlinked = bot.receiver.wait_for("unlinked", |e| e["account_linking"]["status"] == "unlinked").await;
    assert_eq!(unlinked["account_linking"], json!({"status": "unlinked"}));
    assert_eq!(ann.history("bank").await["account_linked"], false);
    refused(&server.graph_call(Method::POST, "/me/unlink_accounts", Some(&bot.page_token), Some(json!({"psid": "123"}))).await, 400, 100, Some(2018001), "No matching user");

    // Cancelled on the site (no code): nothing changes; a token runs out after 15 minutes.
    let start = || ann.call(Method::POST, "/threads/bank/account_linking", Some(tap("/buttons/0")));
    let cancelled = query_param(start().await.1["url"].as_str().unwrap(), "redirect_uri").unwrap();
    let back = no_redirects.get(&cancelled).send().await.unwrap();
    assert_eq!(back.headers()[LOCATION], format!("/m/{}?account_linking=cancelled", bot.page.id));
    assert_eq!(ann.history("bank").await["account_linked"], false);
    let late = query_param(start().await.1["url"].as_str().unwrap(), "redirect_uri").unwrap();
    advance(&server, 16 * MINUTE_MS).await;
    let back = no_redirects.get(format!("{late}&authorization_code=late")).send().await.unwrap();
    assert_eq!(back.headers()[LOCATION], format!("/m/{}?account_linking=expired", bot.page.id));

    // Linked again, then the person taps the unlink button.
    let relink = query_param(start().await.1["url"].as_str().unwrap(), "redirect_uri").unwrap();
    no_redirects.get(format!("{relink}&authorization_code=ann-9")).send().await.unwrap();
    bot.receiver.wait_for("linked again", |e| e["account_linking"]["authorization_code"] == "ann-9").await;
    let (status, answer) = ann.call(Method::POST, "/threads/bank/account_unlinking", Some(tap("/buttons/1"))).await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let unlinked: Vec<Value> = eventually("the button's unlinked event", || {
        let events: Vec<Value> = bot.receiver.acknowledged_events().into_iter().filter(|e| e["account_linking"]["status"] == "unlinked").collect();
        async move { (events.len() == 2).then_some(events) }
    })
    .await;
    assert_eq!(unlinked[1]["sender"]["id"], psid);
    refused(&ann.call(Method::POST, "/threads/bank/account_unlinking", Some(tap("/buttons/1"))).await, 400, 100, None, "not linked");
}
