//! An example Messenger bot, written as any bot for Meta's platform would be: it
//! answers the webhook verification handshake, checks both signatures of every
//! POST against the app secret, acknowledges at once, and echoes each text message
//! back through the Send API. On start it sets its Page's Messenger Profile (Get
//! Started, a greeting, ice breakers, a persistent menu); Get Started and "help"
//! answer with quick replies, and "card" with a generic template whose postback
//! button it answers too. "Talk to a human" hands the conversation to the Page
//! Inbox through the Handover Protocol (`pass_thread_control`), where a Page's agent
//! answers; while the bot does not own a thread its events come as `standby`, and it
//! stays quiet; when the thread is passed back it says so. It knows Switchboard only
//! by its Graph URL.
//!
//! Configuration (environment): ECHO_BOT_GRAPH_URL (e.g. http://127.0.0.1:8080/v21.0),
//! ECHO_BOT_PAGE_TOKEN, ECHO_BOT_APP_SECRET, ECHO_BOT_VERIFY_TOKEN, ECHO_BOT_LISTEN.
//! It prints `listening on <webhook URL>` once it accepts connections.
//!
//! With `--install` it needs no Page token: it is an app's website that Page admins
//! install it from, through the platform's login dialog (see `install.rs`).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

mod install;

/// The Page Inbox's app id, the same on every Page (as on Meta's platform).
const PAGE_INBOX_APP_ID: u64 = 263902037430900;

/// What a person writes to be handed to a person of the Page's team.
const HUMAN_PLEASE: &str = "talk to a human";

struct Bot {
    graph_url: String,
    /// The Page token of each Page the bot answers for, by Page id: the one it was
    /// started with, or those it received when Page admins installed it.
    page_tokens: Mutex<HashMap<String, String>>,
    /// The token for a Page it has none of (the one it was started with, if any).
    default_token: Option<String>,
    app_secret: String,
    verify_token: String,
    http: reqwest::Client,
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} must be set"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let installing = std::env::args().any(|arg| arg == "--install");
    let bot = Arc::new(Bot {
        graph_url: env("ECHO_BOT_GRAPH_URL")?.trim_end_matches('/').to_string(),
        page_tokens: Mutex::new(HashMap::new()),
        default_token: if installing { None } else { Some(env("ECHO_BOT_PAGE_TOKEN")?) },
        app_secret: env("ECHO_BOT_APP_SECRET")?,
        verify_token: env("ECHO_BOT_VERIFY_TOKEN")?,
        http: reqwest::Client::new(),
    });
    let listen = std::env::var("ECHO_BOT_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let webhook = Router::new().route("/webhook", get(handshake).post(receive)).with_state(bot.clone());
    if installing {
        let site = install::Site::from_env(bot.clone(), listener.local_addr()?)?;
        let app = webhook.merge(site.clone().routes());
        // Serve first: subscribing the webhook makes the platform call it back.
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        site.subscribe_webhook().await?;
        println!("listening on {}", site.webhook_url());
        println!("install at {}", site.install_url());
        server.await??;
    } else {
        bot.set_profile(None).await;
        println!("listening on http://{}/webhook", listener.local_addr()?);
        axum::serve(listener, webhook).await?;
    }
    Ok(())
}

/// GET /webhook: answer `hub.challenge` when the verify token matches.
async fn handshake(State(bot): State<Arc<Bot>>, Query(query): Query<HashMap<String, String>>) -> (StatusCode, String) {
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query.get("hub.verify_token").map(String::as_str).unwrap_or("");
    match (mode, query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if token == bot.verify_token => (StatusCode::OK, challenge.clone()),
        _ => (StatusCode::FORBIDDEN, "Forbidden".into()),
    }
}

fn signature_ok(secret: &str, body: &[u8], header: Option<&str>, sha256: bool) -> bool {
    let Some(header) = header else { return false };
    let expected = if sha256 {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    } else {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(body);
        format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
    };
    expected.len() == header.len() && bool::from(expected.as_bytes().ct_eq(header.as_bytes()))
}

#[derive(Deserialize)]
struct Envelope {
    entry: Vec<Entry>,
}

/// One entry of a webhook POST: events of threads the bot owns (`messaging`), or
/// of threads another app owns (`standby`), which the bot only watches.
#[derive(Deserialize)]
struct Entry {
    /// The Page.
    #[serde(default)]
    id: String,
    #[serde(default)]
    messaging: Vec<Value>,
    #[serde(default)]
    standby: Vec<Value>,
}

/// POST /webhook: check both signatures, acknowledge, then answer in the background.
async fn receive(State(bot): State<Arc<Bot>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !signature_ok(&bot.app_secret, &body, header("x-hub-signature"), false)
        || !signature_ok(&bot.app_secret, &body, header("x-hub-signature-256"), true)
    {
        tracing::warn!("refused a webhook POST with a bad or missing signature");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let standby: usize = envelope.entry.iter().map(|e| e.standby.len()).sum();
    if standby > 0 {
        // Another app (the Page Inbox's agent) owns these threads: the bot stays quiet.
        tracing::debug!(standby, "standby events, not answered");
    }
    for (page, event) in envelope.entry.into_iter().flat_map(|e| e.messaging.into_iter().map(move |m| (e.id.clone(), m))) {
        let Some(sender) = event["sender"]["id"].as_str().map(str::to_string) else { continue };
        if event["message"]["is_echo"].as_bool() == Some(true) {
            continue;
        }
        let bot = bot.clone();
        if event.get("pass_thread_control").is_some() {
            // The thread came back to the bot (an agent handed it back).
            tokio::spawn(async move { bot.send(&page, &sender, json!({"text": "I'm back! Say anything and I'll echo it."})).await });
        } else if wants_a_human(&event) {
            tokio::spawn(async move { bot.hand_to_a_human(&page, &sender).await });
        } else if let Some(reply) = answer_to(&event) {
            tokio::spawn(async move { bot.send(&page, &sender, reply).await });
        }
    }
    StatusCode::OK
}

/// Whether the person's text asks for a person of the Page's team.
fn wants_a_human(event: &Value) -> bool {
    event["message"]["text"].as_str().is_some_and(|text| text.trim().to_lowercase().contains(HUMAN_PLEASE))
}

/// What the bot says to an event: a `message` object for the Send API.
fn answer_to(event: &Value) -> Option<Value> {
    let payload = event["postback"]["payload"].as_str().or_else(|| event["message"]["quick_reply"]["payload"].as_str());
    let text = event["message"]["text"].as_str();
    match (payload, text.map(str::trim).map(str::to_lowercase).as_deref()) {
        (Some("GET_STARTED" | "HELP"), _) | (None, Some("help")) => Some(json!({
            "text": "Hi! I echo whatever you write. Want to see a card?",
            "quick_replies": [
                {"content_type": "text", "title": "Show a card", "payload": "CARD"},
                {"content_type": "text", "title": "Just chat", "payload": "CHAT"}],
        })),
        (Some("CARD"), _) | (None, Some("card")) => Some(json!({"attachment": {"type": "template", "payload": {
            "template_type": "generic",
            "elements": [{
                "title": "Switchboard",
                "subtitle": "A Messenger Platform of your own",
                "buttons": [
                    {"type": "postback", "title": "Say hi", "payload": "SAY_HI"},
                    {"type": "web_url", "title": "Messenger docs", "url": "https://developers.facebook.com/docs/messenger-platform"}],
            }],
        }}})),
        (Some("CHAT"), _) => Some(json!({"text": "Go ahead, I'm listening."})),
        (Some(_), _) => {
            let title = event["postback"]["title"].as_str().or(text).unwrap_or("a button");
            Some(json!({"text": format!("Hi! You tapped \"{title}\".")}))
        }
        (None, Some(_)) => Some(json!({"text": format!("echo: {}", text.unwrap_or_default()).chars().take(2000).collect::<String>()})),
        (None, None) => None,
    }
}

impl Bot {
    async fn send(&self, page: &str, psid: &str, message: Value) {
        let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message});
        self.post(Some(page), "messages", body).await;
    }

    /// Says so, then passes the thread to the Page Inbox, where an agent answers
    /// (in this order: once it has passed the thread, the bot may not write in it).
    async fn hand_to_a_human(&self, page: &str, psid: &str) {
        self.send(page, psid, json!({"text": "Connecting you with a person from our team."})).await;
        let body = json!({"recipient": {"id": psid}, "target_app_id": PAGE_INBOX_APP_ID, "metadata": HUMAN_PLEASE});
        self.post(Some(page), "pass_thread_control", body).await;
    }

    /// Sets the Page's Get Started button, greeting, ice breakers and menu (the
    /// Page of the token it was started with, for `None`).
    async fn set_profile(&self, page: Option<&str>) {
        let profile = json!({
            "get_started": {"payload": "GET_STARTED"},
            "greeting": [{"locale": "default", "text": "Hello {{user_first_name}}! Tap Get Started to chat with the echo bot."}],
            "ice_breakers": [{"locale": "default", "call_to_actions": [
                {"question": "What can you do?", "payload": "HELP"},
                {"question": "Show me a card", "payload": "CARD"}]}],
            "persistent_menu": [{"locale": "default", "composer_input_disabled": false, "call_to_actions": [
                {"type": "postback", "title": "Help", "payload": "HELP"},
                {"type": "postback", "title": "Show a card", "payload": "CARD"}]}],
        });
        self.post(page, "messenger_profile", profile).await;
    }

    /// The token to act for `page` with.
    fn token_for(&self, page: Option<&str>) -> Option<String> {
        let known = page.and_then(|page| self.page_tokens.lock().expect("tokens").get(page).cloned());
        known.or_else(|| self.default_token.clone())
    }

    async fn post(&self, page: Option<&str>, edge: &str, body: Value) {
        let Some(token) = self.token_for(page) else {
            tracing::warn!(?page, "no Page token for this Page: install the bot on it first");
            return;
        };
        let url = format!("{}/me/{edge}", self.graph_url);
        match self.http.post(&url).bearer_auth(&token).json(&body).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                let status = response.status();
                let answer = response.text().await.unwrap_or_default();
                tracing::warn!(%status, body = %answer, edge, "the Graph API refused");
            }
            Err(error) => tracing::warn!(%error, "cannot reach the Graph API"),
        }
    }
}
