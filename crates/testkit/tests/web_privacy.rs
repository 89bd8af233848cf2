//! The web messenger's privacy controls in a real browser (headless Chromium over
//! WebDriver). A person deletes their account from the privacy panel: the page
//! returns to sign-in with a notice, the login stops working, and the app that knew
//! them receives a data deletion request it can verify (a `signed_request` with its
//! secret, at a small site of the test's own) and whose answer the console shows. A
//! person blocks a Page from the thread's options (the thread leaves the list, the
//! bot's sends are refused with 551/1545041) and unblocks it from the panel; deletes
//! a conversation (writing again starts afresh); and downloads their data. Each test
//! waits for what the page or the site shows, never sleeps.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use fantoccini::key::Key;
use fantoccini::Client;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use switchboard_testkit::browser::{click, click_text, find, find_text, texts, wait_displayed, Browser, Screen};
use switchboard_testkit::{eventually, Bot, TestPerson, TestServer};

const FIELDS: &str = "messages,message_echoes,messaging_postbacks";

// ---- the app's privacy endpoints ---------------------------------------------------------

/// One POST to the app's site: its path, media type and body.
#[derive(Debug, Clone)]
struct Callback {
    path: String,
    content_type: String,
    body: String,
}

/// The app's own site with its two privacy callbacks: records every POST and answers
/// a data deletion request as Meta documents it, with a status URL and a code.
#[derive(Clone, Default)]
struct AppSite {
    posts: Arc<Mutex<Vec<Callback>>>,
}

const STATUS_URL: &str = "https://example.test/status/1";
const CONFIRMATION_CODE: &str = "abc123";

impl AppSite {
    /// Listens on a port-0 socket; answers its base URL.
    async fn start() -> (Self, String) {
        let site = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().route("/deletion", post(deletion)).route("/deauthorize", post(deauthorize)).with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the app's site serves") });
        (site, base)
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: String) {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        self.posts.lock().unwrap().push(Callback { path: path.into(), content_type, body });
    }

    fn posts_to(&self, path: &str) -> Vec<Callback> {
        self.posts.lock().unwrap().iter().filter(|p| p.path == path).cloned().collect()
    }
}

async fn deletion(State(site): State<AppSite>, headers: HeaderMap, body: String) -> Json<Value> {
    site.record("/deletion", &headers, body);
    Json(json!({"url": STATUS_URL, "confirmation_code": CONFIRMATION_CODE}))
}

async fn deauthorize(State(site): State<AppSite>, headers: HeaderMap, body: String) {
    site.record("/deauthorize", &headers, body);
}

/// The payload of a `signed_request`, checked as an app checks it: HMAC-SHA256 of the
/// encoded payload (the part after the dot) with the app secret is the signature.
fn verify_signed_request(secret: &str, signed: &str) -> Value {
    let (signature, payload) = signed.split_once('.').unwrap_or_else(|| panic!("<signature>.<payload>: {signed}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(payload.as_bytes());
    mac.verify_slice(&base64url(signature)).unwrap_or_else(|_| panic!("the signature is the app secret's: {signed}"));
    serde_json::from_slice(&base64url(payload)).unwrap_or_else(|e| panic!("the payload is JSON: {e}"))
}

/// Decodes unpadded base64url, as Meta encodes both parts.
fn base64url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap_or_else(|e| panic!("not unpadded base64url ({e}): {text:?}"))
}

// ---- browser steps ------------------------------------------------------------------------

/// Opens the messenger, signs in on the form, and waits until the live stream is connected.
async fn sign_in(client: &Client, server: &TestServer, person: &TestPerson) {
    client.goto(&server.url).await.expect("the page opens");
    type_credentials(client, person).await;
    find(client, "body[data-live='on']").await;
}

async fn type_credentials(client: &Client, person: &TestPerson) {
    find(client, "#login-view:not([hidden])").await;
    find(client, "#login").await.clear().await.expect("clearing the login");
    find(client, "#login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#password").await.send_keys(&person.password).await.expect("typing the password");
    click(client, "#sign-in").await;
}

/// The thread list's entry for a Page.
fn listed(username: &str) -> String {
    format!("#thread-list li.thread[data-page='{username}']")
}

/// Opens the open thread's options and picks `item`, then confirms in the dialog.
async fn thread_option(client: &Client, item: &str, button: &str) {
    click(client, "#thread-options").await;
    click(client, item).await;
    find(client, "#confirm-dialog[open]").await;
    click_text(client, "#confirm-ok", button).await;
    wait_displayed(client, "#confirm-dialog", false).await;
}

async fn open_privacy(client: &Client) {
    click(client, "#privacy-open").await;
    find(client, "#privacy-panel[open]").await;
}

// ---- fixtures -----------------------------------------------------------------------------

/// A bot and a person who wrote "hi" to it and got `answer` back: the person and their PSID.
async fn conversation(server: &TestServer, username: &str, login: &str, answer: &str) -> (Bot, TestPerson, String) {
    let bot = server.bot(username, FIELDS).await;
    let person = server.person(login).await;
    server.sign_in(&person).await.send(username, "hi").await;
    let event = bot.receiver.wait_for("the first message", |e| e["message"]["text"] == "hi").await;
    let psid = event["sender"]["id"].as_str().expect("psid").to_string();
    let (status, sent) = server.send_text(&bot, &psid, answer).await;
    assert_eq!(status, 200, "{sent}");
    (bot, person, psid)
}

/// Every string in a JSON document, at any depth.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(fields) => fields.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

// ---- tests --------------------------------------------------------------------------------

#[tokio::test]
async fn a_person_deletes_their_account_and_the_app_is_asked_to_forget_them() {
    // Borrowed by the browser steps, and used again after them.
    let server = &TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (site, base) = AppSite::start().await;
    let (bot, ann, psid) = conversation(server, "shop", "ann", "Welcome to the shop!").await;
    let urls = json!({"data_deletion_url": format!("{base}/deletion"), "deauthorize_callback_url": format!("{base}/deauthorize")});
    server.console(Method::PATCH, &format!("/apps/{}", bot.app.id), urls).await;

    let (login, password) = (ann.login.clone(), ann.password.clone());
    browser
        .run("privacy_delete_account", |client| async move {
            sign_in(&client, server, &ann).await;
            find(&client, &listed("shop")).await;
            open_privacy(&client).await;
            click(&client, "#delete-account").await;
            find(&client, "#delete-account-dialog[open]").await;

            // A wrong password is refused in the dialog, and nothing is deleted.
            find(&client, "#delete-password").await.send_keys("not-my-password").await.expect("typing");
            click(&client, "#delete-confirm").await;
            let refused = find(&client, "#delete-error:not(:empty)").await.text().await.expect("the refusal");
            eprintln!("a wrong password is refused with: {refused}");
            wait_displayed(&client, "#delete-account-dialog", true).await;

            let input = find(&client, "#delete-password").await;
            input.clear().await.expect("clearing");
            input.send_keys(&password).await.expect("typing the password");
            input.send_keys(&Key::Enter).await.expect("confirming");
            find_text(&client, "#login-notice", "Your account was deleted.").await;
            wait_displayed(&client, "#login-view", true).await;
            wait_displayed(&client, "#main-view", false).await;
            let stored = client.execute("return sessionStorage.length", vec![]).await.expect("sessionStorage");
            assert_eq!(stored, json!(0), "the page forgets the session");

            // The same login and password no longer sign in.
            type_credentials(&client, &TestPerson { id: ann.id, login, password }).await;
            find_text(&client, "#login-error", "Wrong login or password.").await;
            wait_displayed(&client, "#main-view", false).await;
        })
        .await;

    // The app that knew Ann is asked to forget her, in a request it can verify.
    let request = eventually("the data deletion request", || {
        let posts = site.posts_to("/deletion");
        async move { posts.into_iter().next() }
    })
    .await;
    assert!(request.content_type.starts_with("application/x-www-form-urlencoded"), "a form: {request:?}");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
    let signed = form.iter().find(|(name, _)| name == "signed_request").map(|(_, value)| value.clone());
    let signed = signed.unwrap_or_else(|| panic!("a signed_request field: {request:?}"));
    let payload = verify_signed_request(&bot.app.secret, &signed);
    assert_eq!(payload["algorithm"], "HMAC-SHA256", "{payload}");
    assert!(payload["user_id"].as_str().is_some_and(|id| !id.is_empty()), "a user_id: {payload}");
    assert!(strings(&payload).contains(&psid.as_str()), "the app can tell whom to forget by the PSID it knew ({psid}): {payload}");

    // The console shows the app's answer.
    let path = format!("/apps/{}/privacy-callbacks", bot.app.id);
    let answered = eventually("the answered callback in the console", || {
        let console = server.console(Method::GET, &path, Value::Null);
        async move {
            let callbacks = console.await;
            callbacks["data"].as_array()?.iter().find(|c| c["kind"] == "data_deletion" && c["state"] == "answered").cloned()
        }
    })
    .await;
    assert_eq!(answered["status_url"], STATUS_URL, "{answered}");
    assert_eq!(answered["confirmation_code"], CONFIRMATION_CODE, "{answered}");
}

#[tokio::test]
async fn a_blocked_page_leaves_the_list_and_cannot_send_until_unblocked() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid) = conversation(&server, "shop", "ann", "Our offer: two hats for one").await;
    let api = server.sign_in(&ann).await;

    browser
        .run("privacy_block", |client| async move {
            sign_in(&client, &server, &ann).await;
            click_text(&client, "#thread-list .thread-name", "Page shop").await;
            find_text(&client, ".from-page .bubble", "Our offer").await;
            thread_option(&client, "#block-page", "Block").await;
            wait_displayed(&client, &listed("shop"), false).await;
            wait_displayed(&client, "#thread-body", false).await;
            find_text(&client, "#no-thread", "You blocked Page shop.").await;

            // The bot can no longer reach Ann, nor Ann the Page.
            let (status, refused) = server.send_text(&bot, &psid, "Still there?").await;
            assert_eq!(status, 400, "{refused}");
            assert_eq!((&refused["error"]["code"], &refused["error"]["error_subcode"]), (&json!(551), &json!(1545041)), "{refused}");
            let (status, refused) = api.call(Method::POST, "/threads/shop/messages", Some(json!({"text": "hello?"}))).await;
            assert!((400..500).contains(&status), "sending to a blocked Page is refused: {status} {refused}");

            // Unblocked from the privacy panel: the thread is back and the bot can write.
            open_privacy(&client).await;
            find_text(&client, "#blocked-list li.blocked[data-page='shop']", "Page shop").await;
            click(&client, "#blocked-list li.blocked[data-page='shop'] button.unblock").await;
            wait_displayed(&client, "#blocked-list li.blocked[data-page='shop']", false).await;
            wait_displayed(&client, "#no-blocks", true).await;
            click(&client, "#privacy-close").await;
            wait_displayed(&client, "#privacy-panel", false).await;
            find(&client, &listed("shop")).await;

            let (status, sent) = server.send_text(&bot, &psid, "Welcome back!").await;
            assert_eq!(status, 200, "{sent}");
            find_text(&client, "#thread-list .thread-preview", "Welcome back!").await;
        })
        .await;
}

#[tokio::test]
async fn a_deleted_conversation_starts_afresh_when_the_person_writes_again() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, _psid) = conversation(&server, "shop", "ann", "Your order has shipped").await;
    let api = server.sign_in(&ann).await;

    browser
        .run("privacy_delete_conversation", |client| async move {
            sign_in(&client, &server, &ann).await;
            click_text(&client, "#thread-list .thread-name", "Page shop").await;
            find_text(&client, ".from-page .bubble", "Your order has shipped").await;
            thread_option(&client, "#delete-thread", "Delete").await;
            wait_displayed(&client, &listed("shop"), false).await;
            wait_displayed(&client, "#thread-body", false).await;

            // Found again by searching; only what is written from now on shows.
            find(&client, "#search").await.send_keys("shop").await.expect("typing");
            click_text(&client, "#search-results .thread-name", "Page shop").await;
            wait_displayed(&client, "#thread-body", true).await;
            assert!(texts(&client, "#messages .bubble").await.is_empty(), "the old messages are gone");
            let input = find(&client, "#text").await;
            input.send_keys("hello again").await.expect("typing");
            input.send_keys(&Key::Enter).await.expect("sending");
            bot.receiver.wait_for("the new message", |e| e["message"]["text"] == "hello again").await;
            find_text(&client, ".from-person .bubble", "hello again").await;
            assert_eq!(texts(&client, "#messages .bubble").await, ["hello again"]);
            find(&client, &listed("shop")).await;

            let history = api.history("shop").await;
            let kept: Vec<&str> = history["messages"].as_array().expect("messages").iter().filter_map(|m| m["text"].as_str()).collect();
            assert_eq!(kept, ["hello again"], "{history}");
        })
        .await;
}

#[tokio::test]
async fn a_person_downloads_their_data() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (_bot, ann, _psid) = conversation(&server, "shop", "ann", "Your order has shipped").await;

    browser
        .run("privacy_export", |client| async move {
            sign_in(&client, &server, &ann).await;
            open_privacy(&client).await;
            click(&client, "#export-data").await;
            find_text(&client, "#export-status", "Your data was downloaded").await;

            // What the button fetched, fetched with the page's own session.
            let token = client.execute("return sessionStorage.getItem('switchboard.messenger.token')", vec![]).await.expect("the token");
            let token = token.as_str().expect("signed in").to_string();
            let response = server.http.get(format!("{}/person/v1/me/export", server.url)).bearer_auth(&token).send().await.expect("the export answers");
            assert_eq!(response.status(), 200);
            let disposition = response.headers().get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            assert!(disposition.starts_with("attachment") && disposition.contains("switchboard-export.json"), "{disposition}");
            let export: Value = response.json().await.expect("the export is JSON");
            let found = strings(&export);
            for expected in [ann.login.as_str(), "hi", "Your order has shipped"] {
                assert!(found.contains(&expected), "the export holds {expected:?}: {export}");
            }
        })
        .await;
}
