//! The web console in a real browser (headless Chromium): a developer repairs a
//! failing webhook and replays the event; apps, Pages, installs, roles and test users
//! made from the UI; the delivery chart; the virtual clock moved by the operator.
//! With `SWITCHBOARD_SCREENSHOTS` set, it also saves the README pictures under
//! `docs/screenshots/`.

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use switchboard_testkit::browser::{
    attribute, click, click_text, console_go, console_sign_in, console_sign_in_as_operator, fill, find, find_text, refresh_until, screenshot, texts, Browser, Screen,
};
use switchboard_testkit::*;

/// Browsers are heavy: the tests of this file take turns.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn value(client: &Client, css: &str) -> String {
    find(client, css).await.prop("value").await.expect("a value").unwrap_or_default()
}

async fn scroll_to(client: &Client, id: &str) {
    client.execute("document.getElementById(arguments[0]).scrollIntoView()", vec![json!(id)]).await.expect("scrolls");
}

/// Saves `docs/screenshots/{name}.png` when `SWITCHBOARD_SCREENSHOTS` is set.
async fn picture(client: &Client, name: &str) {
    if std::env::var_os("SWITCHBOARD_SCREENSHOTS").is_none() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshots directory");
    screenshot(client, &dir.join(format!("{name}.png"))).await;
}

/// Creates an app in the console; answers its id and secret.
async fn create_app(client: &Client, server: &TestServer, name: &str) -> TestApp {
    console_go(client, server, "/apps").await;
    fill(client, "#new-app-name", name).await;
    click(client, "#create-app").await;
    find_text(client, "#create-app-status", "Created the app").await;
    let secret = value(client, "#created-app-secret").await;
    let link = attribute(client, "#created-app a", "href").await.expect("a link");
    let id = link.trim_start_matches("#/apps/").to_string();
    find_text(client, "#apps-list", name).await;
    TestApp { id, secret }
}

/// Creates a Page in the console and opens it; answers its id.
async fn create_page(client: &Client, server: &TestServer, name: &str, username: &str) -> String {
    console_go(client, server, "/pages").await;
    fill(client, "#new-page-name", name).await;
    fill(client, "#new-page-username", username).await;
    click(client, "#create-page").await;
    find_text(client, "#create-page-status a", name).await;
    let link = attribute(client, "#create-page-status a", "href").await.expect("a link");
    let id = link.trim_start_matches("#/pages/").to_string();
    click_text(client, "#create-page-status a", name).await;
    find_text(client, "#view-title", name).await;
    id
}

/// Saves the callback URL in the webhooks view; the handshake must succeed.
async fn point_webhook(client: &Client, url: &str) {
    fill(client, "#callback-url", url).await;
    fill(client, "#verify-token", "test-verify-token").await;
    click(client, "#save-callback").await;
    find_text(client, "#callback-status", &format!("Verified: {url}")).await;
}

#[tokio::test]
async fn a_developer_sees_a_failing_webhook_fixes_the_url_and_replays_the_event() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    // Events die after 2 s of failure, so that there is a dead letter to replay.
    let server = TestServer::start_with(|s| s.webhooks.retry_for_secs = 2).await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let dana = server.person("dana").await;
    let failing = WebhookReceiver::start("unknown yet").await;
    let working = WebhookReceiver::start("unknown yet").await;
    browser
        .run("console-webhook-repair", |client| async move {
            console_sign_in(&client, &server, &dana).await;
            let app = create_app(&client, &server, "Dana bot").await;
            failing.set_secret(&app.secret);
            working.set_secret(&app.secret);

            // The Page, and the app installed on it for messages, all from the UI.
            let page = create_page(&client, &server, "Dana Shop", "danashop").await;
            find(&client, "#install-app option[value]:not([value=''])").await;
            find(&client, "#install-app").await.select_by_value(&app.id).await.expect("the app is chosen");
            click(&client, "#install").await;
            find_text(&client, "#install-status", "Installed for messages").await;
            find_text(&client, "#installed", "Dana bot").await;
            find_text(&client, "#installed", "messages").await;
            let token = value(&client, "#page-token-value").await;
            assert!(token.starts_with("EAA"), "a Page token is shown: {token}");
            let (status, installed) = server.graph_call(Method::GET, &format!("/{page}/subscribed_apps"), Some(&token), None).await;
            assert_eq!((status, &installed["data"][0]["subscribed_fields"]), (200, &json!(["messages"])));
            picture(&client, "console-page").await;

            // The webhook points at a receiver that answers every POST with 500.
            console_go(&client, &server, &format!("/apps/{}/webhooks", app.id)).await;
            find_text(&client, "#subscription-now", "No callback URL").await;
            failing.fail_with(500);
            point_webhook(&client, &failing.url).await;
            find_text(&client, "#subscription-now", &failing.url).await;

            let ann = server.sign_in(&server.person("ann").await).await;
            ann.send("danashop", "hello").await;
            // The list refreshes itself while attempts keep failing: each check looks again.
            find_text(&client, "#errors td", "HTTP 500").await;
            find_text(&client, "#errors td", &failing.url).await;
            find_text(&client, "#errors td", FAILURE_BODY).await;
            find_text(&client, "#health-state", "Failing since").await;
            scroll_to(&client, "errors-section").await;
            picture(&client, "console-webhooks").await;

            // The event becomes a dead letter; its details list the failed attempts.
            find(&client, "#event-state").await.select_by_value("dead").await.expect("the filter");
            refresh_until(&client, "#refresh", "#events tr[data-state='dead']").await;
            let event = attribute(&client, "#events tr[data-state='dead']", "data-event").await.expect("an event id");
            click(&client, &format!("#events tr[data-event='{event}'] button.secondary")).await;
            find_text(&client, "#event-detail", &format!("Event {event}")).await;
            find_text(&client, "#event-detail table", "HTTP 500").await;
            assert!(working.posts().is_empty());

            // Fixed: the callback now points at the working receiver; replay the event.
            point_webhook(&client, &working.url).await;
            click(&client, &format!("#events tr[data-event='{event}'] button[data-event]")).await;
            find_text(&client, "#events-status", "queued again").await;
            let replayed = working.wait_for("the replayed event", |e| e["message"]["text"] == "hello").await;
            assert_eq!(replayed["recipient"]["id"], json!(page));
            assert!(working.posts().iter().all(|p| p.sha256_valid), "signed with the app secret");
        })
        .await;
}

#[tokio::test]
async fn an_administrator_adds_a_developer_by_login_a_test_user_and_goes_live_on_a_phone() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Phone).await else { return };
    let ava = server.person("ava").await;
    let dev = server.person("dev").await;
    browser
        .run("console-roles", |client| async move {
            console_sign_in(&client, &server, &ava).await;
            let app = create_app(&client, &server, "Ava bot").await;
            console_go(&client, &server, &format!("/apps/{}", app.id)).await;
            find_text(&client, "#roles-list", "ava").await;

            fill(&client, "#role-login", "dev").await;
            find(&client, "#role-kind").await.select_by_value("developer").await.expect("the role");
            click(&client, "#add-role").await;
            find_text(&client, "#roles-status", "dev is now a developer").await;
            find_text(&client, "#roles-list tr", "developer").await;

            fill(&client, "#test-user-name", "Tess").await;
            click(&client, "#create-test-user").await;
            let login = find(&client, "#test-user-login").await.text().await.unwrap();
            let password = value(&client, "#test-user-password").await;
            find_text(&client, "#roles-list tr", "tester").await;
            let answer: Value = server
                .http
                .post(format!("{}/console/v1/login", server.url))
                .json(&json!({"login": login, "password": password}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(answer["person"]["name"], "Tess", "the test user signs in with the shown password: {answer}");

            click(&client, "#toggle-mode").await;
            find_text(&client, "#app-mode", "Live").await;
            click(&client, "#show-secret").await;
            assert_eq!(find(&client, "#app-secret").await.attr("type").await.unwrap().as_deref(), Some("text"));

            // As seen by the developer, and nothing wider than the phone.
            let roles = server.console(Method::GET, &format!("/apps/{}/roles", app.id), json!({})).await;
            let roles: Vec<(String, String)> = roles["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["person"]["login"].as_str().unwrap().to_string(), r["role"].as_str().unwrap().to_string()))
                .collect();
            assert!(roles.contains(&(dev.login.clone(), "developer".into())), "{roles:?}");
            let overflow = client.execute("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await.unwrap();
            assert!(overflow.as_i64().unwrap() <= 0, "the page fits the phone's width (overflow {overflow})");
            scroll_to(&client, "roles").await;
            picture(&client, "console-app-phone").await;
        })
        .await;
}

#[tokio::test]
async fn the_chart_shows_deliveries_per_minute_and_their_latency() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    for text in ["one", "two", "three"] {
        ann.send("shop", text).await;
    }
    bot.receiver.wait_for("the last message", |e| e["message"]["text"] == "three").await;
    browser
        .run("console-chart", |client| async move {
            console_sign_in_as_operator(&client, &server).await;
            console_go(&client, &server, &format!("/apps/{}/webhooks", bot.app.id)).await;
            find(&client, "#chart svg.chart rect.bar-delivered").await;
            let described = find(&client, "#chart svg.chart desc").await.prop("textContent").await.unwrap().unwrap_or_default();
            assert!(described.contains("3 delivered and 0 failed"), "{described}");
            assert!(!client.find_all(Locator::Css("#chart svg.chart polyline.line-avg, #chart svg.chart circle.line-avg")).await.unwrap().is_empty());
            click(&client, "#chart details summary").await;
            find_text(&client, "#chart details table", "Delivered").await;
            let cells = texts(&client, "#chart details table tbody td").await;
            assert_eq!(cells.first().map(String::as_str), Some("3"), "the table row: {cells:?}");
            let metrics = find(&client, "#chart-section a[href='/metrics']").await;
            assert_eq!(metrics.text().await.unwrap(), "/metrics");
            click(&client, "#chart details summary").await;
            scroll_to(&client, "chart-section").await;
            picture(&client, "console-chart").await;
        })
        .await;
}

#[tokio::test]
async fn the_operator_moves_the_virtual_clock_forward_from_the_console() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    browser
        .run("console-clock", |client| async move {
            console_sign_in_as_operator(&client, &server).await;
            find_text(&client, "#clock-kind", "virtual").await;
            let before = server.console(Method::GET, "/clock", json!({})).await["now"].as_i64().unwrap();
            click(&client, "#clock-25h").await;
            find_text(&client, "#clock-status", "moved forward by 1 d 1 h").await;
            fill(&client, "#clock-amount", "2").await;
            click(&client, "#clock-form button[type='submit']").await;
            find_text(&client, "#clock-status", "moved forward by 2 h").await;
            let after = server.console(Method::GET, "/clock", json!({})).await["now"].as_i64().unwrap();
            assert!(after >= before + 27 * 3_600_000, "the server's clock moved 27 h: {before} → {after}");
            let shown: i64 = find(&client, "#clock-now").await.attr("data-ms").await.unwrap().unwrap().parse().unwrap();
            assert!(shown >= before + 27 * 3_600_000, "the console shows the moved clock: {shown}");
            click(&client, "#clock-1h").await;
            find_text(&client, "#clock-status", "moved forward by 1 h").await;
        })
        .await;
}

#[tokio::test]
async fn a_page_admin_applies_for_a_feature_and_the_operator_approves_it() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let pat = server.person("pat").await;
    browser
        .run("console-features", |client| async move {
            console_sign_in(&client, &server, &pat).await;
            let page = create_page(&client, &server, "Pat Bakery", "patbakery").await;
            find_text(&client, "#admins", "pat").await;
            click(&client, "#apply-phone_numbers").await;
            find_text(&client, "#features-status", "Accept the terms").await;
            click(&client, "#terms-phone_numbers").await;
            click(&client, "#apply-phone_numbers").await;
            find_text(&client, "#features tr", "Waiting for the operator").await;

            click(&client, "#sign-out").await;
            console_sign_in_as_operator(&client, &server).await;
            console_go(&client, &server, &format!("/pages/{page}")).await;
            click(&client, "#approve-phone_numbers").await;
            find_text(&client, "#features-status", "Approved phone_numbers").await;
            let features = server.console(Method::GET, &format!("/pages/{page}/features"), json!({})).await;
            assert_eq!(features["data"][0]["status"], "approved", "{features}");
        })
        .await;
}

#[tokio::test]
async fn a_developer_registers_a_redirect_uri_and_submits_a_permission_the_operator_approves() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let ria = server.person("ria").await;
    browser
        .run("console-review", |client| async move {
            console_sign_in(&client, &server, &ria).await;
            let app = create_app(&client, &server, "Ria bot").await;
            console_go(&client, &server, &format!("/apps/{}", app.id)).await;
            fill(&client, "#redirect-uris", "https://ria.example/installed").await;
            click(&client, "#save-redirect-uris").await;
            find_text(&client, "#redirect-uris-status", "1 redirect URI(s) saved").await;
            find_text(&client, "#review-list tr[data-permission='pages_messaging']", "Standard access").await;
            click(&client, "#review-pages_messaging").await;
            fill(&client, "#review-note", "Ria answers her customers' questions").await;
            click(&client, "#submit-review").await;
            find_text(&client, "#review-status", "Submitted pages_messaging for review").await;
            find_text(&client, "#review-list tr[data-permission='pages_messaging']", "waiting for the operator").await;

            click(&client, "#sign-out").await;
            console_sign_in_as_operator(&client, &server).await;
            console_go(&client, &server, &format!("/apps/{}", app.id)).await;
            find_text(&client, "#review-list tr[data-permission='pages_messaging']", "Ria answers her customers' questions").await;
            click(&client, "#approve-pages_messaging").await;
            find_text(&client, "#review-status", "pages_messaging approved").await;
            find_text(&client, "#review-list tr[data-permission='pages_messaging'][data-status='approved']", "Approved").await;

            let uris = server.console(Method::GET, &format!("/apps/{}/redirect-uris", app.id), json!({})).await;
            assert_eq!(uris["redirect_uris"], json!(["https://ria.example/installed"]));
            let review = server.console(Method::GET, &format!("/apps/{}/review", app.id), json!({})).await;
            let messaging = review["permissions"].as_array().unwrap().iter().find(|p| p["permission"] == "pages_messaging").unwrap().clone();
            assert_eq!(messaging["status"], "approved", "{review}");
        })
        .await;
}
