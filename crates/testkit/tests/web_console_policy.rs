//! The app view's Policy section in a real browser (headless Chromium over WebDriver).
//! The operator blocks an app with a reason: the page shows the new state and the
//! audit line, the console API and the app's webhook agree, and the Send API refuses
//! the app; a refused action shows the server's reason; unblocking restores sending.
//! Each step waits for what the page shows, never sleeps.

use reqwest::Method;
use serde_json::json;
use switchboard_testkit::browser::{console_go, console_sign_in_as_operator, fill, find, find_text, click, Browser, Screen};
use switchboard_testkit::TestServer;

#[tokio::test]
async fn the_operator_blocks_and_unblocks_an_app_from_its_view() {
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("shop", "messages,messaging_policy_enforcement").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();

    browser
        .run("console-policy", |client| async move {
            console_sign_in_as_operator(&client, &server).await;
            console_go(&client, &server, &format!("/apps/{}", bot.app.id)).await;
            find_text(&client, "#policy-state[data-state='clear']", "In good standing").await;

            // Unblocking an app that is not blocked: the server's reason shows.
            find(&client, "#policy-action").await.select_by_value("unblock").await.expect("unblock is chosen");
            click(&client, "#policy-apply").await;
            find_text(&client, "#policy-status.error", "not blocked").await;

            // A block with its reason.
            find(&client, "#policy-action").await.select_by_value("block").await.expect("block is chosen");
            fill(&client, "#policy-reason", "Spam reported by many people").await;
            click(&client, "#policy-apply").await;
            find_text(&client, "#policy-status.ok", "blocked").await;
            find_text(&client, "#policy-state[data-state='blocked']", "Blocked for policy").await;
            find_text(&client, "#audit-list", "policy block: Spam reported by many people").await;
            let listed = server.console(Method::GET, "/apps", json!({})).await;
            let app = listed["data"].as_array().unwrap().iter().find(|a| a["id"] == bot.app.id.as_str()).unwrap().clone();
            assert_eq!(app["policy"], "blocked", "{app}");
            let event = bot.receiver.wait_for("the block", |e| e["policy_enforcement"]["action"] == "block").await;
            assert_eq!(event["policy_enforcement"]["reason"], "Spam reported by many people");
            let (status, refused) = server.send_text(&bot, &psid, "blocked?").await;
            assert_eq!((status, &refused["error"]["error_subcode"]), (400, &json!(1893063)), "{refused}");

            // Unblocked from the same control: the app sends again.
            find(&client, "#policy-action").await.select_by_value("unblock").await.expect("unblock is chosen");
            click(&client, "#policy-apply").await;
            find_text(&client, "#policy-state[data-state='clear']", "In good standing").await;
            find_text(&client, "#audit-list", "policy unblock").await;
            bot.receiver.wait_for("the unblock", |e| e["policy_enforcement"]["action"] == "unblock").await;
            assert_eq!(server.send_text(&bot, &psid, "back").await.0, 200);
        })
        .await;
}
