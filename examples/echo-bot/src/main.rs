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
//! Entry points: a person who came from a link, an ad or the chat plugin is told
//! where from by the ref, in the Get Started greeting of a new thread
//! (`postback.referral`) or on an existing one (`messaging_referrals`). A Send to
//! Messenger opt-in is thanked by its ref; a checkbox plugin opt-in has no PSID yet,
//! so the bot answers it by `recipient.user_ref` (one message, until the person
//! replies). "Link my account" (or "link") offers account linking: a button template
//! whose `account_link` button opens the bot's own login page, `GET /authorize` (see
//! `linking.rs`); `messaging_account_linking` is answered with the code and an
//! `account_unlink` button, or with the unlinking.
//!
//! For tests of conversations (`switchboard test`, docs/testing.md) it also answers
//! "remind me in N seconds" with a message N seconds later (refused once the
//! 24-hour window has closed), "picture" with an image it serves itself, and "all
//! the cards" with a carousel of 11 cards, one more than Meta allows, so that the
//! platform refuses it.
//!
//! Configuration (environment): ECHO_BOT_GRAPH_URL (e.g. http://127.0.0.1:8080/v21.0),
//! ECHO_BOT_PAGE_TOKEN, ECHO_BOT_APP_SECRET, ECHO_BOT_VERIFY_TOKEN, ECHO_BOT_LISTEN;
//! each falls back to the name bots commonly read (GRAPH_API_URL, PAGE_ACCESS_TOKEN,
//! APP_SECRET, VERIFY_TOKEN, and 127.0.0.1:$PORT), which `switchboard test` sets;
//! ECHO_BOT_LINK_URL, the site account linking opens (default: the bot's own
//! `/authorize`, under ECHO_BOT_PUBLIC_URL or the address it listens on).
//! It prints `listening on <webhook URL>` once it accepts connections.
//!
//! With `--install` it needs no Page token: it is an app's website that Page admins
//! install it from, through the platform's login dialog (see `install.rs`).
//!
//! With `--pull` nobody needs to reach its port for webhooks: it long-polls the
//! platform's pull API as its app (ECHO_BOT_APP_ID, see `pull.rs`) and answers each
//! update as it answers a webhook POST. It still serves its routes (account linking
//! needs them), and prints `pulling updates for app <app id> from <Graph URL>`.

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
mod linking;
mod pull;

/// The Page Inbox's app id, the same on every Page (as on Meta's platform).
const PAGE_INBOX_APP_ID: u64 = 263902037430900;

/// What a person writes to be handed to a person of the Page's team.
const HUMAN_PLEASE: &str = "talk to a human";

/// The answer to Get Started and "help" (with a ref, after naming it).
const GREETING: &str = "Hi! I echo whatever you write. Want to see a card?";

struct Bot {
    graph_url: String,
    /// The Page token of each Page the bot answers for, by Page id: the one it was
    /// started with, or those it received when Page admins installed it.
    page_tokens: Mutex<HashMap<String, String>>,
    /// The token for a Page it has none of (the one it was started with, if any).
    default_token: Option<String>,
    app_secret: String,
    verify_token: String,
    /// Where the `account_link` button leads (the business's login page).
    link_url: String,
    /// The image "picture" is answered with, served by the bot itself.
    picture_url: String,
    http: reqwest::Client,
}

/// A 1×1 PNG, the picture the bot sends.
const PICTURE: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08,
    0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00,
    0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// GET /picture.png.
async fn picture() -> ([(axum::http::header::HeaderName, &'static str); 1], &'static [u8]) {
    ([(axum::http::header::CONTENT_TYPE, "image/png")], PICTURE)
}

/// "remind me in N seconds": N, at most an hour.
fn reminder_delay(event: &Value) -> Option<u64> {
    let text = event["message"]["text"].as_str()?.trim().to_lowercase();
    let rest = text.strip_prefix("remind me in ")?;
    let seconds: u64 = rest.trim_end_matches("seconds").trim_end_matches("second").trim().parse().ok()?;
    Some(seconds.min(3600))
}

/// "all the cards": a carousel of 11 cards, which Meta's limit of 10 refuses.
fn too_many_cards() -> Value {
    let elements: Vec<Value> = (1..=11).map(|n| json!({"title": format!("Card {n}"), "subtitle": "One card too many"})).collect();
    json!({"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": elements}}})
}

/// A setting by its own name, else by the name bots commonly read.
fn env(name: &str) -> anyhow::Result<String> {
    let common = match name {
        "ECHO_BOT_GRAPH_URL" => "GRAPH_API_URL",
        "ECHO_BOT_PAGE_TOKEN" => "PAGE_ACCESS_TOKEN",
        "ECHO_BOT_APP_SECRET" => "APP_SECRET",
        "ECHO_BOT_VERIFY_TOKEN" => "VERIFY_TOKEN",
        "ECHO_BOT_APP_ID" => "APP_ID",
        _ => name,
    };
    std::env::var(name).or_else(|_| std::env::var(common)).map_err(|_| anyhow::anyhow!("{name} (or {common}) must be set"))
}

/// Where to listen: ECHO_BOT_LISTEN, else the loopback at $PORT, else port 3000.
fn listen_address() -> String {
    std::env::var("ECHO_BOT_LISTEN")
        .or_else(|_| std::env::var("PORT").map(|port| format!("127.0.0.1:{port}")))
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let installing = std::env::args().any(|arg| arg == "--install");
    let pulling = std::env::args().any(|arg| arg == "--pull");
    anyhow::ensure!(!(installing && pulling), "choose one of --install and --pull: --install subscribes a webhook");
    let pull_app_id = if pulling { Some(pull::app_id_from_env()?) } else { None };
    let listener = tokio::net::TcpListener::bind(listen_address()).await?;
    let own_url = format!("http://{}", listener.local_addr()?);
    let bot = Arc::new(Bot {
        graph_url: env("ECHO_BOT_GRAPH_URL")?.trim_end_matches('/').to_string(),
        page_tokens: Mutex::new(HashMap::new()),
        default_token: if installing { None } else { Some(env("ECHO_BOT_PAGE_TOKEN")?) },
        app_secret: env("ECHO_BOT_APP_SECRET")?,
        verify_token: env("ECHO_BOT_VERIFY_TOKEN")?,
        link_url: linking::link_url(listener.local_addr()?),
        picture_url: format!("{own_url}/picture.png"),
        http: reqwest::Client::new(),
    });
    let webhook = Router::new()
        .route("/webhook", get(handshake).post(receive))
        .route("/picture.png", get(picture))
        .with_state(bot.clone())
        .merge(linking::routes(bot.clone()));
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
        if let Some(app_id) = pull_app_id {
            println!("pulling updates for app {app_id} from {}", bot.graph_url);
            tokio::spawn(pull::pull_forever(bot.clone(), app_id));
        }
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
    tokio::spawn(async move { bot.answer(envelope).await });
    StatusCode::OK
}

/// Whether the person's text asks for a person of the Page's team.
fn wants_a_human(event: &Value) -> bool {
    event["message"]["text"].as_str().is_some_and(|text| text.trim().to_lowercase().contains(HUMAN_PLEASE))
}

/// What the bot says to an event from a person with a PSID: a `message` object for
/// the Send API.
fn answer_to(event: &Value, link_url: &str) -> Option<Value> {
    if let Some(referral) = event.get("referral") {
        return Some(welcome_back(referral));
    }
    if let Some(optin) = event.get("optin") {
        return thanks_for_opting_in(optin);
    }
    if let Some(linking) = event.get("account_linking") {
        return linking::answer_to_linking(linking);
    }
    answer_to_message(event, link_url)
}

/// The Send API body answering a checkbox plugin opt-in, which comes without a
/// sender: the person has no PSID yet, and one message may go to their `user_ref`.
fn answer_to_checkbox(event: &Value) -> Option<Value> {
    if event["sender"]["id"].is_string() {
        return None;
    }
    let optin = &event["optin"];
    let user_ref = optin["user_ref"].as_str()?;
    let text = match ref_of(optin) {
        Some(reference) => format!("Thanks for ticking the box on our site ({reference})! Reply here to keep chatting."),
        None => "Thanks for ticking the box on our site! Reply here to keep chatting.".to_string(),
    };
    Some(json!({"recipient": {"user_ref": user_ref}, "messaging_type": "RESPONSE", "message": {"text": text}}))
}

/// The pass-through parameter of a referral or an opt-in, if it has one (a person
/// who found the Page by search, or an ad without one, brings none).
fn ref_of(object: &Value) -> Option<&str> {
    object["ref"].as_str().filter(|reference| !reference.is_empty())
}

/// An existing thread reopened from a link, an ad or the chat plugin (`messaging_referrals`).
fn welcome_back(referral: &Value) -> Value {
    match ref_of(referral) {
        Some(reference) => json!({"text": format!("Welcome back! You came from “{reference}”.")}),
        None => json!({"text": "Welcome back!"}),
    }
}

/// A Send to Messenger opt-in; opt-ins to notifications (with a `type`) are not answered.
fn thanks_for_opting_in(optin: &Value) -> Option<Value> {
    if optin.get("type").is_some() {
        return None;
    }
    Some(match ref_of(optin) {
        Some(reference) => json!({"text": format!("Thanks for opting in from “{reference}”!")}),
        None => json!({"text": "Thanks for opting in!"}),
    })
}

/// The greeting with its quick replies, naming the ref a new thread came with.
fn greeting(reference: Option<&str>) -> Value {
    let text = match reference {
        Some(reference) => format!("You came from “{reference}”. {GREETING}"),
        None => GREETING.to_string(),
    };
    json!({
        "text": text,
        "quick_replies": [
            {"content_type": "text", "title": "Show a card", "payload": "CARD"},
            {"content_type": "text", "title": "Just chat", "payload": "CHAT"},
            {"content_type": "text", "title": "Link my account", "payload": "LINK_ACCOUNT"}],
    })
}

/// What the bot says to a message, a quick reply or a postback.
fn answer_to_message(event: &Value, link_url: &str) -> Option<Value> {
    let attachment = &event["message"]["attachments"][0];
    if attachment["type"] == "location" {
        let coordinates = &attachment["payload"]["coordinates"];
        return Some(json!({"text": format!("You shared a pin at {}, {}.", coordinates["lat"], coordinates["long"])}));
    }
    if let Some(kind @ ("image" | "video" | "audio" | "file")) = attachment["type"].as_str() {
        return Some(json!({"text": format!("Thanks for the {kind}.")}));
    }
    let payload = event["postback"]["payload"].as_str().or_else(|| event["message"]["quick_reply"]["payload"].as_str());
    let text = event["message"]["text"].as_str();
    match (payload, text.map(str::trim).map(str::to_lowercase).as_deref()) {
        (Some("GET_STARTED" | "HELP"), _) | (None, Some("help")) => Some(greeting(ref_of(&event["postback"]["referral"]))),
        (Some("LINK_ACCOUNT"), _) | (None, Some("link")) => Some(linking::offer(link_url)),
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
        (None, Some("all the cards")) => Some(too_many_cards()),
        (Some(_), _) => {
            let title = event["postback"]["title"].as_str().or(text).unwrap_or("a button");
            Some(json!({"text": format!("Hi! You tapped \"{title}\".")}))
        }
        (None, Some(_)) => Some(json!({"text": format!("echo: {}", text.unwrap_or_default()).chars().take(2000).collect::<String>()})),
        (None, None) => None,
    }
}

impl Bot {
    /// Answers the events of one webhook body, each after the one before, so a
    /// thread's answers keep its events' order. Webhook POSTs and pulled updates
    /// both come here.
    async fn answer(self: &Arc<Self>, envelope: Envelope) {
        let standby: usize = envelope.entry.iter().map(|e| e.standby.len()).sum();
        if standby > 0 {
            // Another app (the Page Inbox's agent) owns these threads: the bot stays quiet.
            tracing::debug!(standby, "standby events, not answered");
        }
        for (page, event) in envelope.entry.into_iter().flat_map(|e| e.messaging.into_iter().map(move |m| (e.id.clone(), m))) {
            if let Some(send) = answer_to_checkbox(&event) {
                // No PSID yet: the only way to write to this person is their user_ref.
                self.post(Some(&page), "messages", send).await;
                continue;
            }
            let Some(sender) = event["sender"]["id"].as_str() else { continue };
            if event["message"]["is_echo"].as_bool() == Some(true) {
                continue;
            }
            if event.get("pass_thread_control").is_some() {
                // The thread came back to the bot (an agent handed it back).
                self.send(&page, sender, json!({"text": "I'm back! Say anything and I'll echo it."})).await;
            } else if wants_a_human(&event) {
                self.hand_to_a_human(&page, sender).await;
            } else if event["message"]["text"].as_str().map(|t| t.trim().to_lowercase()).as_deref() == Some("picture") {
                let image = json!({"attachment": {"type": "image", "payload": {"url": self.picture_url, "is_reusable": true}}});
                self.send(&page, sender, image).await;
            } else if let Some(seconds) = reminder_delay(&event) {
                self.send(&page, sender, json!({"text": format!("OK, I'll remind you in {seconds} seconds.")})).await;
                let (bot, page, sender) = (self.clone(), page.clone(), sender.to_string());
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
                    bot.send(&page, &sender, json!({"text": "Here is your reminder."})).await;
                });
            } else if let Some(reply) = answer_to(&event, &self.link_url) {
                self.send(&page, sender, reply).await;
            }
        }
    }

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

    /// Every Page token the bot holds: the one it was started with, and those of the
    /// Pages it was installed on.
    fn all_tokens(&self) -> Vec<String> {
        let installed: Vec<String> = self.page_tokens.lock().expect("tokens").values().cloned().collect();
        self.default_token.iter().cloned().chain(installed).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "http://127.0.0.1:3000/authorize";

    fn text_of(answer: Option<Value>) -> String {
        answer.and_then(|a| a["text"].as_str().map(str::to_string)).unwrap_or_default()
    }

    #[test]
    fn get_started_from_a_link_names_its_ref_with_the_usual_quick_replies() {
        let event = json!({"sender": {"id": "psid"}, "postback": {"title": "Get Started", "payload": "GET_STARTED",
            "referral": {"ref": "spring-sale", "source": "SHORTLINK", "type": "OPEN_THREAD"}}});
        let answer = answer_to(&event, LINK).expect("an answer");
        assert_eq!(answer["text"], format!("You came from “spring-sale”. {GREETING}"));
        let payloads: Vec<&str> = answer["quick_replies"].as_array().into_iter().flatten().filter_map(|q| q["payload"].as_str()).collect();
        assert_eq!(payloads, ["CARD", "CHAT", "LINK_ACCOUNT"]);
    }

    #[test]
    fn get_started_without_a_ref_greets_as_before() {
        let event = json!({"sender": {"id": "psid"}, "postback": {"title": "Get Started", "payload": "GET_STARTED"}});
        assert_eq!(text_of(answer_to(&event, LINK)), GREETING);
    }

    #[test]
    fn a_referral_on_an_existing_thread_welcomes_back_by_its_ref() {
        let event = json!({"sender": {"id": "psid"}, "recipient": {"id": "page"}, "referral": {"ref": "chat-sale", "source": "CUSTOMER_CHAT_PLUGIN", "type": "OPEN_THREAD"}});
        assert_eq!(text_of(answer_to(&event, LINK)), "Welcome back! You came from “chat-sale”.");
        let no_ref = json!({"sender": {"id": "psid"}, "referral": {"source": "ADS", "type": "OPEN_THREAD", "ad_id": "1"}});
        assert_eq!(text_of(answer_to(&no_ref, LINK)), "Welcome back!");
    }

    #[test]
    fn a_send_to_messenger_opt_in_is_thanked_by_its_ref() {
        let event = json!({"sender": {"id": "psid"}, "recipient": {"id": "page"}, "optin": {"ref": "hat-page"}});
        assert_eq!(text_of(answer_to(&event, LINK)), "Thanks for opting in from “hat-page”!");
        assert_eq!(answer_to_checkbox(&event), None, "it has a PSID: answered as usual");
    }

    #[test]
    fn notification_opt_ins_are_not_answered() {
        let event = json!({"sender": {"id": "psid"}, "optin": {"type": "one_time_notif_req", "payload": "p", "one_time_notif_token": "t"}});
        assert_eq!(answer_to(&event, LINK), None);
    }

    #[test]
    fn a_checkbox_opt_in_is_answered_by_user_ref() {
        let event = json!({"recipient": {"id": "page"}, "optin": {"ref": "checkout", "user_ref": "ref-123"}});
        let send = answer_to_checkbox(&event).expect("a send");
        assert_eq!(
            send,
            json!({"recipient": {"user_ref": "ref-123"}, "messaging_type": "RESPONSE",
                "message": {"text": "Thanks for ticking the box on our site (checkout)! Reply here to keep chatting."}})
        );
    }

    #[test]
    fn other_events_without_a_sender_are_not_checkbox_opt_ins() {
        let roles = json!({"recipient": {"id": "page"}, "app_roles": {"1": ["primary_receiver"]}});
        assert_eq!(answer_to_checkbox(&roles), None);
        let text = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "text": "hi"}});
        assert_eq!(answer_to_checkbox(&text), None);
    }

    #[test]
    fn link_my_account_and_link_offer_the_account_link_button() {
        let tapped = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "text": "Link my account", "quick_reply": {"payload": "LINK_ACCOUNT"}}});
        let written = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "text": " Link "}});
        for event in [tapped, written] {
            assert_eq!(answer_to(&event, LINK), Some(linking::offer(LINK)), "{event}");
        }
        let offer = linking::offer(LINK);
        assert_eq!(offer["attachment"]["payload"]["buttons"][0], json!({"type": "account_link", "url": LINK}));
    }

    #[test]
    fn account_linking_events_are_answered() {
        let linked = json!({"sender": {"id": "psid"}, "account_linking": {"status": "linked", "authorization_code": "C"}});
        let answer = answer_to(&linked, LINK).expect("an answer");
        assert_eq!(answer["attachment"]["payload"]["text"], "Your account is linked (code C).");
        assert_eq!(answer["attachment"]["payload"]["buttons"], json!([{"type": "account_unlink"}]));
        let unlinked = json!({"sender": {"id": "psid"}, "account_linking": {"status": "unlinked"}});
        assert_eq!(text_of(answer_to(&unlinked, LINK)), "Your account is unlinked.");
    }

    #[test]
    fn a_shared_pin_is_named_and_a_reminder_understood() {
        let pin = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "attachments": [{"type": "location", "payload": {"coordinates": {"lat": 48.8584, "long": 2.2945}}}]}});
        assert_eq!(text_of(answer_to(&pin, LINK)), "You shared a pin at 48.8584, 2.2945.");
        let remind = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "text": "Remind me in 3 seconds"}});
        assert_eq!(reminder_delay(&remind), Some(3));
        let image = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "attachments": [{"type": "image", "payload": {"url": "http://x/m"}}]}});
        assert_eq!(text_of(answer_to(&image, LINK)), "Thanks for the image.");
        assert_eq!(too_many_cards()["attachment"]["payload"]["elements"].as_array().map(Vec::len), Some(11));
    }

    #[test]
    fn text_is_still_echoed_and_buttons_still_named() {
        let text = json!({"sender": {"id": "psid"}, "message": {"mid": "m", "text": "hello"}});
        assert_eq!(text_of(answer_to(&text, LINK)), "echo: hello");
        let tapped = json!({"sender": {"id": "psid"}, "postback": {"title": "Say hi", "payload": "SAY_HI"}});
        assert_eq!(text_of(answer_to(&tapped, LINK)), "Hi! You tapped \"Say hi\".");
    }
}
