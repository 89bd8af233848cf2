//! The custom labels of a Page in the web console (headless Chromium): labels a bot
//! made through Graph show in the Page's view with how many people each holds, for
//! the Page's admin; a Page without labels says so.

use reqwest::Method;
use serde_json::json;
use switchboard_testkit::browser::{click, console_go, console_sign_in, find, find_text, texts, Browser, Screen};
use switchboard_testkit::*;

#[tokio::test]
async fn the_pages_labels_show_with_their_member_counts() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let token = bot.page_token.as_str();
    let mut psids = Vec::new();
    for login in ["ann", "bob"] {
        let mid = server.sign_in(&server.person(login).await).await.send("shop", "hi").await["mid"].clone();
        let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
        psids.push(event["sender"]["id"].as_str().unwrap().to_string());
    }
    let mut ids = Vec::new();
    for name in ["vip", "churned"] {
        let (status, created) = server.graph_call(Method::POST, "/me/custom_labels", Some(token), Some(json!({"page_label_name": name}))).await;
        assert_eq!(status, 200, "{created}");
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    for psid in &psids {
        let (status, answer) = server.graph_call(Method::POST, &format!("/{}/label", ids[0]), Some(token), Some(json!({"user": psid}))).await;
        assert_eq!((status, answer), (200, json!({"success": true})));
    }
    let bare = server.bot("bare", "messages").await;

    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    browser
        .run("console_labels", |client| async move {
            console_sign_in(&client, &server, &bot.admin).await;
            console_go(&client, &server, &format!("/pages/{}", bot.page.id)).await;
            find_text(&client, "#labels-section h2", "Labels").await;
            find(&client, &format!("#labels tr[data-label='{}']", ids[0])).await;
            assert_eq!(texts(&client, "#labels tbody th").await, ["churned", "vip"], "by name");
            assert_eq!(texts(&client, &format!("#labels tr[data-label='{}'] .label-members", ids[0])).await, ["2"]);
            assert_eq!(texts(&client, &format!("#labels tr[data-label='{}'] .label-members", ids[1])).await, ["0"]);
            assert_eq!(texts(&client, &format!("#labels tr[data-label='{}'] td", ids[1])).await[0], ids[1], "the id beside the name");

            // Another Page (of another admin) has none.
            click(&client, "#sign-out").await;
            find(&client, "#login").await;
            console_sign_in(&client, &server, &bare.admin).await;
            console_go(&client, &server, &format!("/pages/{}", bare.page.id)).await;
            find_text(&client, "#labels td.empty", "No labels yet").await;
        })
        .await;
}
