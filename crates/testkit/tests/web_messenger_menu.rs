//! A person's own persistent menu in the web messenger (headless Chromium over
//! WebDriver): a bot gives one person a menu of their own through Graph
//! (`custom_user_settings`); that person sees it instead of the Page's and a tap on
//! it reaches the bot as their postback, while another person still sees the Page's.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::browser::{click_text, find, find_text, texts, Browser, Screen};
use switchboard_testkit::{Bot, TestPerson, TestServer};

const FIELDS: &str = "messages,messaging_postbacks";

fn menu(items: &[(&str, &str)]) -> Value {
    let items: Vec<Value> = items.iter().map(|(title, payload)| json!({"type": "postback", "title": title, "payload": payload})).collect();
    json!([{"locale": "default", "composer_input_disabled": false, "call_to_actions": items}])
}

/// The person writes "hi" to the bot's Page: their PSID there.
async fn psid_of(server: &TestServer, bot: &Bot, person: &TestPerson) -> String {
    let mid = server.sign_in(person).await.send(&bot.page.username, "hi").await["mid"].clone();
    let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    event["sender"]["id"].as_str().expect("psid").to_string()
}

/// Opens the Page's thread, signs in, waits for the live stream, and opens the menu:
/// answers the menu's items.
async fn menu_items(client: &fantoccini::Client, server: &TestServer, person: &TestPerson) -> Vec<String> {
    client.goto(&format!("{}/m/shop", server.url)).await.expect("the page opens");
    find(client, "#login-view:not([hidden])").await;
    find(client, "#login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#password").await.send_keys(&person.password).await.expect("typing the password");
    find(client, "#sign-in").await.click().await.expect("signing in");
    find(client, "body[data-live='on']").await;
    find(client, "#menu-button:not([hidden])").await.click().await.expect("opening the menu");
    find(client, "#menu:not([hidden]) .menu-item").await;
    texts(client, "#menu .menu-item").await
}

#[tokio::test]
async fn a_person_sees_and_taps_the_menu_the_bot_gave_them() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let profile = json!({"get_started": {"payload": "GO"}, "persistent_menu": menu(&[("For everyone", "ALL"), ("Opening hours", "HOURS")])});
    let (status, answer) = server.graph_call(Method::POST, "/me/messenger_profile", Some(&bot.page_token), Some(profile)).await;
    assert_eq!(status, 200, "{answer}");
    let (ann, bob) = (server.person("ann").await, server.person("bob").await);
    let ann_psid = psid_of(&server, &bot, &ann).await;
    psid_of(&server, &bot, &bob).await;
    let body = json!({"psid": ann_psid, "persistent_menu": menu(&[("Your order", "ANN_ORDER"), ("Your VIP line", "ANN_VIP")])});
    let (status, answer) = server.graph_call(Method::POST, "/me/custom_user_settings", Some(&bot.page_token), Some(body)).await;
    assert_eq!((status, answer), (200, json!({"result": "success"})));

    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (server_ref, bot_ref, ann_ref) = (&server, &bot, ann_psid.as_str());
    browser
        .run("messenger_personal_menu", |client| async move {
            assert_eq!(menu_items(&client, server_ref, &ann).await, ["Your order", "Your VIP line"], "her own menu, not the Page's");
            click_text(&client, "#menu .menu-item", "Your VIP line").await;
            let event = bot_ref.receiver.wait_for("the personal menu's postback", |e| e["postback"]["payload"] == "ANN_VIP").await;
            assert_eq!((&event["sender"]["id"], &event["postback"]["title"]), (&json!(ann_ref), &json!("Your VIP line")), "{event}");
            find_text(&client, ".from-person .bubble", "Your VIP line").await;
        })
        .await;

    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    browser
        .run("messenger_page_menu", |client| async move {
            assert_eq!(menu_items(&client, &server, &bob).await, ["For everyone", "Opening hours"], "everyone else: the Page's menu");
            click_text(&client, "#menu .menu-item", "Opening hours").await;
            let event = bot.receiver.wait_for("the Page menu's postback", |e| e["postback"]["payload"] == "HOURS").await;
            assert_ne!(event["sender"]["id"], json!(ann_psid));
        })
        .await;
}
