//! The console's privacy sections in a real browser (headless Chromium over
//! WebDriver). The operator sets an app's data deletion URL on its page (a refused
//! URL shows the server's reason there) to a small site of the test's own; a person
//! who wrote to the app's Page deletes their account through the person API, and the
//! app's privacy callbacks list shows the request answered with the site's
//! confirmation code. The operator's privacy audit shows the deletion and runs
//! retention on demand. A Page admin sets the Page's retention, which the console API
//! then reports. Each step waits for what the page shows, never sleeps.

use axum::routing::post;
use axum::{Json, Router};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use switchboard_testkit::browser::{
    click, console_go, console_sign_in, console_sign_in_as_operator, fill, find, find_text, refresh_until, wait_displayed, Browser, Screen,
};
use switchboard_testkit::{eventually, TestServer};

const CONFIRMATION_CODE: &str = "cc-1";

/// The app's site: counts the data deletion requests it is sent and answers each as
/// Meta documents, with a status URL and a confirmation code.
async fn deletion_site() -> (Arc<AtomicUsize>, String) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let app = Router::new().route(
        "/deletion",
        post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Json(json!({"url": "https://example.test/s/1", "confirmation_code": CONFIRMATION_CODE}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the app's site serves") });
    (posts, base)
}

#[tokio::test]
async fn privacy_callbacks_the_audit_and_a_pages_retention_in_the_console() {
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("quietshop", "messages").await;
    let (deletions, site) = deletion_site().await;
    let ann_person = server.person("ann").await;
    let ann = server.sign_in(&ann_person).await;
    ann.send("quietshop", "hello").await;
    // The app knows her once it received her message.
    bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await;

    browser
        .run("console-privacy", |client| async move {
            // The operator sets the app's data deletion URL; a plain-http URL elsewhere is refused.
            console_sign_in_as_operator(&client, &server).await;
            console_go(&client, &server, &format!("/apps/{}", bot.app.id)).await;
            find_text(&client, "#privacy-callbacks", "No privacy callbacks").await;
            fill(&client, "#data-deletion-url", "http://example.com/deletion").await;
            click(&client, "#save-privacy-urls").await;
            let refused = find(&client, "#privacy-urls-status.error").await.text().await.expect("the reason");
            assert!(refused.contains("data_deletion_url"), "the server's reason names the field: {refused}");
            let deletion_url = format!("{site}/deletion");
            fill(&client, "#data-deletion-url", &deletion_url).await;
            click(&client, "#save-privacy-urls").await;
            find_text(&client, "#privacy-urls-status", "Privacy URLs saved").await;
            let urls = server.console(Method::GET, &format!("/apps/{}/privacy", bot.app.id), json!({})).await;
            assert_eq!(urls, json!({"data_deletion_url": deletion_url, "deauthorize_callback_url": null}));

            // Ann deletes her account; the app's site is asked, and its answer shows.
            let (status, answer) = ann.call(Method::DELETE, "/me", Some(json!({"password": ann_person.password}))).await;
            assert_eq!(status, 200, "the account is deleted: {answer}");
            eventually("the data deletion request", || {
                let deletions = deletions.clone();
                async move { (deletions.load(Ordering::SeqCst) > 0).then_some(()) }
            })
            .await;
            let answered = "#privacy-callbacks tr[data-kind='data_deletion'][data-state='answered']";
            refresh_until(&client, "#refresh-privacy-callbacks", answered).await;
            find_text(&client, answered, CONFIRMATION_CODE).await;
            find_text(&client, answered, "https://example.test/s/1").await;

            // The operator's privacy audit records the deletion; retention runs on demand.
            wait_displayed(&client, "#nav-privacy", true).await;
            click(&client, "#nav-privacy").await;
            find_text(&client, "#view-title", "Privacy audit").await;
            find_text(&client, "#privacy-audit tr[data-action='account_deleted']", &format!("person:{}", ann_person.id)).await;
            click(&client, "#run-retention").await;
            find_text(&client, "#run-retention-status", "Retention ran: 0 messages").await;

            // A Page admin keeps the Page's messages for 30 days; the operator's audit is not theirs.
            click(&client, "#sign-out").await;
            find(&client, "#sign-in-form").await;
            console_sign_in(&client, &server, &bot.admin).await;
            wait_displayed(&client, "#nav-privacy", false).await;
            console_go(&client, &server, &format!("/pages/{}", bot.page.id)).await;
            find_text(&client, "#retention .hint", "installation’s default").await;
            find_text(&client, "#retention-effective", "kept").await;
            fill(&client, "#retention-days", "30").await;
            click(&client, "#save-retention").await;
            find_text(&client, "#retention-status", "keeps messages for 30 days").await;
            find_text(&client, "#retention-effective", "older than 30 days").await;
            let retention: Value = server.console(Method::GET, &format!("/pages/{}/retention", bot.page.id), json!({})).await;
            assert_eq!(retention["retention_days"], 30, "{retention}");
            assert_eq!(retention["effective_retention_days"], 30, "{retention}");
        })
        .await;
}
