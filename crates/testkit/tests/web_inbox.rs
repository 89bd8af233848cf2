//! The Page inbox in two real browsers (headless Chromium): a person chats with the
//! real example bot in the web messenger and asks to talk to a human; the bot hands
//! the thread to the Page Inbox; a Page agent finds it waiting in the console, takes
//! it over and answers while the bot stays quiet, then hands it back, and the bot
//! echoes again. Each step waits for what a page shows, never sleeps; that the bot
//! stayed quiet is read after later messages of the same thread.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::routing::any;
use axum::Router;
use fantoccini::key::Key;
use fantoccini::Client;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_testkit::browser::{click, click_text, find, find_text, texts, Browser, Screen};
use switchboard_testkit::{eventually, TestApp, TestPage, TestPerson, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What the example bot subscribes to here: its own events, and the handover's.
const FIELDS: &str = "messages,messaging_postbacks,messaging_handovers,standby";

/// The Page Inbox's app id, the same on every Page.
const PAGE_INBOX_APP: &str = "263902037430900";

// ---- browser steps ------------------------------------------------------------------

/// Opens the web messenger at `path`, signs in, and waits for the live stream.
async fn messenger_sign_in(client: &Client, server: &TestServer, path: &str, person: &TestPerson) {
    client.goto(&format!("{}{path}", server.url)).await.expect("the messenger opens");
    find(client, "#login-view:not([hidden])").await;
    find(client, "#login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#password").await.send_keys(&person.password).await.expect("typing the password");
    click(client, "#sign-in").await;
    find(client, "body[data-live='on']").await;
}

/// Types into the messenger's composer and presses Enter.
async fn write(client: &Client, text: &str) {
    let input = find(client, "#text").await;
    input.send_keys(text).await.expect("typing");
    input.send_keys(&Key::Enter).await.expect("pressing Enter");
}

async fn fill(client: &Client, css: &str, text: &str) {
    let input = find(client, css).await;
    input.clear().await.expect("the input clears");
    input.send_keys(text).await.expect("typing");
}

/// Signs a person in to the console.
async fn console_sign_in(client: &Client, server: &TestServer, person: &TestPerson) {
    client.goto(&format!("{}/console", server.url)).await.expect("the console opens");
    fill(client, "#login", &person.login).await;
    fill(client, "#password", &person.password).await;
    click(client, "#sign-in").await;
    find_text(client, "#who", &format!("({})", person.login)).await;
}

/// The inbox's answer: types it and presses Send once Send may be pressed.
async fn answer(client: &Client, text: &str) {
    find(client, "#inbox-send:not([disabled])").await;
    fill(client, "#inbox-text", text).await;
    click(client, "#inbox-send:not([disabled])").await;
}

/// The texts of the Page's messages in the person's messenger, read in one step.
async fn page_bubbles(client: &Client) -> Vec<String> {
    texts(client, ".from-page .bubble").await
}

// ---- the example bot behind a tap ---------------------------------------------------

/// A webhook tap in front of the example bot: forwards every request unchanged (the
/// bot checks the signatures) and records the POSTed JSON.
struct Tap {
    url: String,
    posts: Arc<Mutex<Vec<Value>>>,
}

type TapState = (String, reqwest::Client, Arc<Mutex<Vec<Value>>>);

async fn forward(State((target, http, posts)): State<TapState>, method: HttpMethod, uri: Uri, headers: HeaderMap, body: Bytes) -> (StatusCode, Bytes) {
    if method == HttpMethod::POST {
        if let Ok(json) = serde_json::from_slice(&body) {
            posts.lock().unwrap().push(json);
        }
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut request = http.request(method, format!("{target}{query}")).body(body);
    for name in ["content-type", "x-hub-signature", "x-hub-signature-256"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => (response.status(), response.bytes().await.unwrap_or_default()),
        Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
    }
}

impl Tap {
    async fn start(target: &str) -> Self {
        let posts = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let app = Router::new().route("/webhook", any(forward)).with_state((target.to_string(), reqwest::Client::new(), posts.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the tap serves") });
        Self { url, posts }
    }

    /// The events the bot received under `entry[].{array}` (`messaging` or `standby`).
    fn events(&self, array: &str) -> Vec<Value> {
        let posts = self.posts.lock().unwrap().clone();
        posts.iter().flat_map(|p| p["entry"].as_array().cloned().unwrap_or_default()).flat_map(|e| e[array].as_array().cloned().unwrap_or_default()).collect()
    }

    /// Waits until the bot received an event under `array` that `matches`.
    async fn wait_for(&self, what: &str, array: &str, matches: impl Fn(&Value) -> bool) -> Value {
        eventually(what, || {
            let found = self.events(array).into_iter().find(|e| matches(e));
            async move { found }
        })
        .await
    }
}

/// The example bot binary (`cargo build --workspace --bins`), beside this test's target dir.
fn echo_bot_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let binary = dir.join(format!("echo-bot{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "build the binaries first: cargo build --workspace --bins ({} is missing)", binary.display());
    binary
}

/// The example bot on a new Page `username`, as `switchboard demo` starts it, with its
/// webhook behind a [`Tap`] and subscribed to the handover's fields.
struct EchoBot {
    _process: Child,
    tap: Tap,
    page: TestPage,
    app: TestApp,
}

async fn start_echo_bot(server: &TestServer, username: &str) -> EchoBot {
    let admin = server.person(&format!("{username}-admin")).await;
    let page = server.page(&admin, username).await;
    let app = server.app("Echo Bot").await;
    server.console(Method::PATCH, &format!("/apps/{}", app.id), json!({"mode": "live"})).await;
    let page_token = server.grant(&page, &app, &admin).await;
    let verify_token = "echo-verify-token";
    let mut process = Command::new(echo_bot_binary())
        .env("ECHO_BOT_GRAPH_URL", server.graph())
        .env("ECHO_BOT_PAGE_TOKEN", &page_token)
        .env("ECHO_BOT_APP_SECRET", &app.secret)
        .env("ECHO_BOT_VERIFY_TOKEN", verify_token)
        .env("ECHO_BOT_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the echo bot starts");
    let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
    let bot_url = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines.next_line().await.expect("the bot's output").expect("the bot exited before listening");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_string();
            }
        }
    })
    .await
    .expect("the bot listens");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let tap = Tap::start(&bot_url).await;
    let app_token = format!("{}|{}", app.id, app.secret);
    let body = json!({"object": "page", "callback_url": tap.url, "verify_token": verify_token, "fields": FIELDS});
    let (status, answer) = server.graph_call(Method::POST, &format!("/{}/subscriptions", app.id), Some(&app_token), Some(body)).await;
    assert_eq!((status, answer), (200, json!({"success": true})), "subscribing the bot's webhook");
    server.install(&page_token, &page, FIELDS).await;
    EchoBot { _process: process, tap, page, app }
}

// ---- the test -----------------------------------------------------------------------

#[tokio::test]
async fn a_person_asks_for_a_human_an_agent_answers_in_the_inbox_and_hands_back_to_the_bot() {
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(person_browser) = Browser::start(Screen::Desktop).await else { return };
    let Some(agent_browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = start_echo_bot(&server, "echo").await;
    let ann = server.person("ann").await;
    let alex = server.person("alex").await;
    let (page, app) = (bot.page.id.clone(), bot.app.id.clone());

    // The first app installed answers the Page's conversations; the Page Inbox is passed threads.
    let receivers = server.console(Method::GET, &format!("/pages/{page}/receivers"), json!({})).await;
    let role_of = |id: &str| receivers["data"].as_array().and_then(|apps| apps.iter().find(|a| a["id"] == id)).map(|a| a["role"].clone());
    assert_eq!(role_of(&app), Some(json!("primary_receiver")), "{receivers}");
    assert_eq!(role_of(PAGE_INBOX_APP), Some(json!("secondary_receiver")), "{receivers}");
    // Alex answers for the Page in its inbox, and may do nothing else there.
    server.console(Method::POST, &format!("/pages/{page}/roles"), json!({"login": alex.login, "role": "agent"})).await;

    person_browser
        .run("inbox_person", |person| async move {
            agent_browser
                .run("inbox_agent", |agent| async move {
                    // Ann chats with the bot, then asks for a human.
                    messenger_sign_in(&person, &server, "/m/echo", &ann).await;
                    write(&person, "hello bot").await;
                    find_text(&person, ".from-page .bubble", "echo: hello bot").await;
                    write(&person, "Please, I want to TALK TO A HUMAN").await;
                    find_text(&person, ".from-page .bubble", "Connecting you with a person from our team.").await;
                    let asked = bot.tap.wait_for("the request for a human at the bot", "messaging", |e| e["message"]["text"] == "Please, I want to TALK TO A HUMAN").await;
                    let psid = asked["sender"]["id"].as_str().expect("the PSID").to_string();
                    let row = format!("li.inbox-thread[data-psid='{psid}']");

                    // Alex finds the thread waiting in the Page's inbox.
                    console_sign_in(&agent, &server, &alex).await;
                    click(&agent, "#nav-inbox").await;
                    find_text(&agent, &format!("#inbox-pages tr[data-page='{page}']"), "1 waiting").await;
                    click_text(&agent, "#inbox-pages a", "Page echo").await;
                    find_text(&agent, &format!("{row}.waiting"), "Waiting for an agent").await;
                    find_text(&agent, &row, "Ann Tester").await;
                    click(&agent, &format!("{row} a")).await;
                    find_text(&agent, "#inbox-thread-heading", "Ann Tester").await;
                    find_text(&agent, "#inbox-state", "Waiting for an agent").await;
                    find_text(&agent, ".inbox-message[data-from='person']", "hello bot").await;
                    find_text(&agent, ".inbox-message[data-from='page']", "echo: hello bot").await;
                    find_text(&agent, ".inbox-message[data-from='page'] .inbox-sender", "Echo Bot").await;

                    // Alex takes over and answers; Ann sees it.
                    click(&agent, "#inbox-take").await;
                    find_text(&agent, "#inbox-state", "With you").await;
                    find_text(&agent, &row, "With you").await;
                    answer(&agent, "Hi Ann, I'm Alex from the team. How can I help?").await;
                    find_text(&agent, ".inbox-message[data-from='page']", "I'm Alex from the team").await;
                    find_text(&agent, ".inbox-message[data-from='page'] .inbox-sender", "Agent").await;
                    find_text(&person, ".from-page .bubble", "Hi Ann, I'm Alex from the team. How can I help?").await;

                    // Ann writes: Alex reads it in the inbox; the bot only watches (standby).
                    write(&person, "My order is late").await;
                    find_text(&agent, ".inbox-message[data-from='person']", "My order is late").await;
                    let watched = bot.tap.wait_for("Ann's message on standby at the bot", "standby", |e| e["message"]["text"] == "My order is late").await;
                    assert_eq!(watched["sender"]["id"], psid.as_str(), "{watched}");
                    answer(&agent, "Let me check that for you.").await;
                    find_text(&person, ".from-page .bubble", "Let me check that for you.").await;
                    let bubbles = page_bubbles(&person).await;
                    assert!(!bubbles.iter().any(|b| b.contains("echo: My order is late")), "the bot stays quiet while an agent answers: {bubbles:?}");
                    assert!(
                        !bot.tap.events("messaging").iter().any(|e| e["message"]["text"] == "My order is late"),
                        "the bot's app gets the agent's thread only on standby"
                    );

                    // Alex hands the thread back; the bot says so and echoes again.
                    click(&agent, "#inbox-hand-back").await;
                    find_text(&agent, "#inbox-state", "Echo Bot").await;
                    find_text(&agent, &row, "Bot").await;
                    bot.tap.wait_for("the thread passed back to the bot", "messaging", |e| e["pass_thread_control"].is_object()).await;
                    find_text(&person, ".from-page .bubble", "I'm back! Say anything and I'll echo it.").await;
                    write(&person, "hello again").await;
                    find_text(&person, ".from-page .bubble", "echo: hello again").await;
                    find_text(&agent, ".inbox-message[data-from='page']", "echo: hello again").await;
                    // The bot answers a thread's events in order: no echo of what Alex answered.
                    let bubbles = page_bubbles(&person).await;
                    assert!(!bubbles.iter().any(|b| b.contains("echo: My order is late")), "no late echo: {bubbles:?}");
                })
                .await;
        })
        .await;
}
