//! Installing a bot from its own website, in a real browser (headless Chromium): the
//! example bot in `--install` mode sends a Page admin to the login dialog; she signs
//! in, picks one of her two Pages and continues; the bot receives the code,
//! exchanges it, lists the Page and subscribes it. A person's message to that Page
//! then reaches the bot (it echoes), while the other Page stays untouched.

use reqwest::Method;
use serde_json::json;
use switchboard_testkit::browser::{click, find, find_text, Browser, Screen};
use switchboard_testkit::{InstallingBot, TestServer};

#[tokio::test]
async fn a_page_admin_installs_a_bot_on_one_of_her_pages_through_the_login_dialog() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let ann = server.person("ann").await;
    let shop = server.page(&ann, "shop").await;
    let cafe = server.page(&ann, "cafe").await;
    let app = server.app("Echo Bot").await;
    // In development: Ann develops the bot, Bea tests it.
    let bea = server.person("bea").await;
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": ann.id, "role": "developer"})).await;
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": bea.id, "role": "tester"})).await;
    let bot = InstallingBot::start(&server, &app).await;
    server.console(Method::PUT, &format!("/apps/{}/redirect-uris", app.id), json!({"redirect_uris": [bot.redirect_uri]})).await;

    let (shop_id, ann_login, ann_password) = (shop.id.clone(), ann.login.clone(), ann.password.clone());
    browser
        .run("login_dialog", |client| async move {
            client.goto(&bot.install_url).await.expect("the bot's website opens");
            // The dialog asks Ann to sign in, then what the app wants.
            find(&client, "#sign-in-form:not([hidden])").await.click().await.expect("focus");
            find(&client, "#login").await.send_keys(&ann_login).await.expect("typing the login");
            find(&client, "#password").await.send_keys(&ann_password).await.expect("typing the password");
            click(&client, "#sign-in").await;
            find_text(&client, "#app-name", "Echo Bot would like to use your account").await;
            find_text(&client, "#permissions", "Manage and reply to the messages of the Pages you choose").await;
            find_text(&client, "#pages", "Page cafe").await;
            click(&client, &format!("#page-{shop_id}")).await;
            click(&client, "#continue").await;
            // Back on the bot's website, installed on the shop only.
            find_text(&client, "#result", "Installed").await;
            find_text(&client, "#detail", "Installed on Page shop.").await;
        })
        .await;

    let app_token = format!("{}|{}", app.id, app.secret);
    let (status, installed) = server.graph_call(Method::GET, &format!("/{}/subscribed_apps", app.id), Some(&app_token), None).await;
    assert_eq!(status, 200, "{installed}");
    let pages: Vec<&str> = installed["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(pages, [shop.id.as_str()], "the cafe stays untouched");

    // Bea writes to both Pages: the bot answers on the shop, nothing on the cafe.
    let mut bea_client = server.sign_in(&bea).await;
    bea_client.listen().await;
    bea_client.send("cafe", "hello cafe").await;
    bea_client.send("shop", "hello shop").await;
    bea_client.wait_live("the bot's echo on the shop", |e| e["message"]["text"] == "echo: hello shop").await;
    let cafe_history = bea_client.history("cafe").await;
    let from_page: Vec<_> = cafe_history["messages"].as_array().expect("messages").iter().filter(|m| m["from"] == "page").collect();
    assert!(from_page.is_empty(), "nobody answers on the cafe: {cafe_history}");
    let _ = cafe;
}
