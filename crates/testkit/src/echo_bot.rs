//! The example echo bot (`examples/echo-bot`) as a separate process, wired to a new
//! Page as `switchboard demo` wires it, with its webhook behind a [`Tap`] that
//! forwards every request unchanged (the bot checks the signatures) and records what
//! the bot's app received.

use crate::{eventually, TestApp, TestPage, TestServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::routing::any;
use axum::Router;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The running bot (killed when dropped), its tap, its Page and its app.
pub struct EchoBot {
    _process: Child,
    pub tap: Tap,
    pub page: TestPage,
    pub app: TestApp,
}

impl EchoBot {
    /// Starts the bot for a new Page `username`, subscribed and installed for `fields`.
    pub async fn start(server: &TestServer, username: &str, fields: &str) -> Self {
        let admin = server.person(&format!("{username}-admin")).await;
        let page = server.page(&admin, username).await;
        let app = server.app("Echo Bot").await;
        server.go_live(&app).await;
        let page_token = server.grant(&page, &app, &admin).await;
        let verify_token = "echo-verify-token";
        let env = [("ECHO_BOT_PAGE_TOKEN", page_token.as_str()), ("ECHO_BOT_APP_SECRET", &app.secret), ("ECHO_BOT_VERIFY_TOKEN", verify_token)];
        let (process, bot_url) = start_bot(server, &[], &env, "listening on ").await;
        let tap = Tap::start(&bot_url).await;
        let app_token = format!("{}|{}", app.id, app.secret);
        let body = json!({"object": "page", "callback_url": tap.url, "verify_token": verify_token, "fields": fields});
        let (status, answer) = server.graph_call(Method::POST, &format!("/{}/subscriptions", app.id), Some(&app_token), Some(body)).await;
        assert_eq!((status, answer), (200, json!({"success": true})), "subscribing the bot's webhook");
        server.install(&page_token, &page, fields).await;
        Self { _process: process, tap, page, app }
    }
}

/// The example bot in `--pull` mode (killed when dropped): its app in pull mode on a
/// new Page, with no webhook anyone must reach.
pub struct PullingBot {
    _process: Child,
    pub page: TestPage,
    pub app: TestApp,
}

impl PullingBot {
    pub async fn start(server: &TestServer, username: &str, fields: &[&str]) -> Self {
        let admin = server.person(&format!("{username}-admin")).await;
        let page = server.page(&admin, username).await;
        let app = server.app("Pulling Echo Bot").await;
        server.go_live(&app).await;
        let page_token = server.grant(&page, &app, &admin).await;
        let delivery = server.console(Method::PUT, &format!("/apps/{}/webhook/delivery", app.id), json!({"mode": "pull", "fields": fields})).await;
        assert_eq!(delivery["mode"], "pull", "{delivery}");
        server.install(&page_token, &page, &fields.join(",")).await;
        let env = [("ECHO_BOT_PAGE_TOKEN", page_token.as_str()), ("ECHO_BOT_APP_SECRET", &app.secret), ("ECHO_BOT_VERIFY_TOKEN", "unused"), ("ECHO_BOT_APP_ID", &app.id)];
        let (process, _) = start_bot(server, &["--pull"], &env, "pulling updates for app").await;
        Self { _process: process, page, app }
    }
}

/// The example bot in `--install` mode: the app's own website, which Page admins
/// install it from through the login dialog. It subscribes its own webhook.
pub struct InstallingBot {
    _process: Child,
    pub install_url: String,
    pub redirect_uri: String,
}

impl InstallingBot {
    pub async fn start(server: &TestServer, app: &TestApp) -> Self {
        let env = [("ECHO_BOT_APP_ID", app.id.as_str()), ("ECHO_BOT_APP_SECRET", &app.secret), ("ECHO_BOT_VERIFY_TOKEN", "install-verify-token")];
        let (process, install_url) = start_bot(server, &["--install"], &env, "install at ").await;
        let redirect_uri = install_url.replace("/install", "/installed");
        Self { _process: process, install_url, redirect_uri }
    }
}

/// Starts the example bot on a free port with `args` and `env` (and the server's
/// Graph URL), and waits for the line it prints starting with `prefix`: answers the
/// process and the rest of that line. Its further output is drained.
async fn start_bot(server: &TestServer, args: &[&str], env: &[(&str, &str)], prefix: &str) -> (Child, String) {
    let mut command = Command::new(binary());
    command.args(args).env("ECHO_BOT_GRAPH_URL", server.graph()).env("ECHO_BOT_LISTEN", "127.0.0.1:0");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut process = command.stdout(Stdio::piped()).kill_on_drop(true).spawn().expect("the echo bot starts");
    let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines.next_line().await.expect("the bot's output").unwrap_or_else(|| panic!("the bot exited before printing {prefix:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                break rest.trim().to_string();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the bot never printed {prefix:?}"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (process, rest)
}

/// The example bot binary (`cargo build --workspace --bins`), beside the test's target dir.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let binary = dir.join(format!("echo-bot{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "build the binaries first: cargo build --workspace --bins ({} is missing)", binary.display());
    binary
}

/// A webhook tap in front of a bot: forwards every request unchanged and records the
/// POSTed JSON.
pub struct Tap {
    pub url: String,
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
    pub async fn start(target: &str) -> Self {
        let posts = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let app = Router::new().route("/webhook", any(forward)).with_state((target.to_string(), reqwest::Client::new(), posts.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the tap serves") });
        Self { url, posts }
    }

    /// The events the bot received under `entry[].messaging`.
    pub fn events(&self) -> Vec<Value> {
        self.events_in("messaging")
    }

    /// The events the bot received under `entry[].{array}` (`messaging` or `standby`).
    pub fn events_in(&self, array: &str) -> Vec<Value> {
        let posts = self.posts.lock().unwrap().clone();
        posts.iter().flat_map(|p| p["entry"].as_array().cloned().unwrap_or_default()).flat_map(|e| e[array].as_array().cloned().unwrap_or_default()).collect()
    }

    /// Waits until the bot received an event under `array` that `matches`.
    pub async fn wait_for(&self, what: &str, array: &str, matches: impl Fn(&Value) -> bool) -> Value {
        eventually(what, || {
            let found = self.events_in(array).into_iter().find(|e| matches(e));
            async move { found }
        })
        .await
    }
}
