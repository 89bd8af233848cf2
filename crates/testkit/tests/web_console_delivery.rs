//! The webhooks view's Delivery section in a real browser (headless Chromium over
//! WebDriver). An app's administrator sees its delivery mode (webhook, no callback:
//! events wait for a listener) with the `switchboard listen` command for the app; a
//! refused change shows the server's reason; switching to pull in the UI is what the
//! console API then reports, with the pull API's request shown. Back in webhook mode,
//! a real `switchboard listen` process connects and the section lists it. The
//! view's refused API calls show what the bot sent and the error it got. Each step
//! waits for what the page shows, never sleeps.

use reqwest::Method;
use serde_json::json;
use switchboard_testkit::browser::{attribute, click, console_go, console_sign_in, find, find_text, refresh_until, Browser, Screen};
use switchboard_testkit::{ListenProcess, TestApp, TestPage, TestPerson, TestServer, WebhookReceiver};

/// Dora, her Page, and an app she administers granted the Page: its Page token.
async fn dora_and_her_bot(server: &TestServer) -> (TestPerson, TestPage, TestApp, String) {
    let dora = server.person("dora").await;
    let page = server.page(&dora, "dorashop").await;
    let app = server.app("Dora bot").await;
    server.console(Method::POST, &format!("/apps/{}/roles", app.id), json!({"person_id": dora.id, "role": "administrator"})).await;
    let page_token = server.grant(&page, &app, &dora).await;
    (dora, page, app, page_token)
}

#[tokio::test]
async fn an_administrator_switches_the_delivery_mode_and_sees_a_listener_connect() {
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    // An app granted a Page and installed on it, with no webhook at all; Dora administers both.
    let (dora, page, app, page_token) = dora_and_her_bot(&server).await;
    server.install(&page_token, &page, "messages").await;
    let delivery_path = format!("/apps/{}/webhook/delivery", app.id);

    browser
        .run("console-delivery", |client| async move {
            console_sign_in(&client, &server, &dora).await;
            console_go(&client, &server, &format!("/apps/{}/webhooks", app.id)).await;
            find_text(&client, "#delivery-mode[data-mode='webhook']", "webhook").await;
            find_text(&client, "#delivery-callback", "none — events wait for a listener").await;
            find_text(&client, "#delivery-listeners[data-count='0']", "none connected").await;
            find_text(&client, "#delivery-poller[data-polling='false']", "not polling").await;
            let command = find_text(&client, "#delivery-listen-command", "switchboard listen").await.text().await.expect("the command");
            assert!(
                command.contains(&format!("--app {} ", app.id)) && command.contains("--forward-to http://localhost:3000/webhook"),
                "the command names the app: {command}"
            );

            // A mode the server does not know: its reason shows under the control.
            client
                .execute(
                    "const s = document.getElementById('delivery-mode-choice'); s.append(new Option('carrier pigeon', 'pigeon')); s.value = 'pigeon';",
                    vec![],
                )
                .await
                .expect("a made-up mode");
            click(&client, "#delivery-save").await;
            find_text(&client, "#delivery-status.error", "webhook or pull").await;

            // Pull, chosen and saved in the UI.
            find(&client, "#delivery-mode-choice").await.select_by_value("pull").await.expect("pull is chosen");
            click(&client, "#delivery-save").await;
            find_text(&client, "#delivery-status.ok", "Saved").await;
            let delivery = server.console(Method::GET, &delivery_path, json!({})).await;
            assert_eq!((&delivery["mode"], &delivery["callback_url"]), (&json!("pull"), &json!(null)), "{delivery}");
            find_text(&client, "#delivery-mode[data-mode='pull']", "pull").await;
            find_text(&client, "#delivery-pull-request", &format!("GET /v21.0/{}/updates?offset=&timeout=", app.id)).await;
            for field in delivery["fields"].as_array().expect("fields") {
                find_text(&client, "#delivery-fields", field.as_str().expect("a field name")).await;
            }

            // Back to webhook through the API; a listener connects and the section lists it.
            server.console(Method::PUT, &delivery_path, json!({"mode": "webhook"})).await;
            refresh_until(&client, "#refresh", "#delivery-mode[data-mode='webhook']").await;
            let receiver = WebhookReceiver::start(&app.secret).await;
            let _listener = ListenProcess::start(&server.url, &app, &receiver.url, &[]).await;
            refresh_until(&client, "#refresh", "#delivery-listeners[data-count='1']").await;
            find_text(&client, "#delivery-listeners", "1 connected").await;
            find_text(&client, "#delivery-listeners li", "connected since").await;
            let delivery = server.console(Method::GET, &delivery_path, json!({})).await;
            let listener = delivery["listeners"][0]["id"].as_str().expect("the listener's id");
            assert_eq!(attribute(&client, "#delivery-listeners li", "data-listener").await.as_deref(), Some(listener));
        })
        .await;
}

#[tokio::test]
async fn an_administrator_sees_the_bots_refused_calls() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (dora, _page, app, page_token) = dora_and_her_bot(&server).await;
    let send = json!({"recipient": {"id": "123"}, "messaging_type": "RESPONSE", "message": {"text": "to nobody"}});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&page_token), Some(send)).await;
    assert_eq!(status, 400, "{answer}");

    browser
        .run("console-refused-calls", |client| async move {
            console_sign_in(&client, &server, &dora).await;
            console_go(&client, &server, &format!("/apps/{}/webhooks", app.id)).await;
            find_text(&client, "#refused-calls td", "(#100) No matching user found").await;
            find_text(&client, "#refused-calls", "100/2018001").await;
            find_text(&client, "#refused-calls", "POST /v21.0/me/messages").await;
            let sent = find_text(&client, "#refused-calls code.excerpt", "to nobody").await.text().await.expect("the body");
            assert!(!sent.contains(&page_token), "no token is shown: {sent}");
        })
        .await;
}
