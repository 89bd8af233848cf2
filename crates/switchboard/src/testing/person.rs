//! A conversation's person, played through the person API: created by the operator
//! with a login of their own (so a fresh PSID), signed in, their live stream read
//! for what the Page sends them. What the bot offered (buttons, quick replies) is
//! kept so that a `BUTTON` step can tap it as the person's client would.

use super::world::{Api, CallError, Fixture};
use anyhow::Context;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_convo::{BotMessage, Card, Choice};
use tokio::sync::mpsc;

/// The Page messages kept for taps, newest last.
const OFFERS_KEPT: usize = 20;

/// A line of the live stream at most (a message view is a few KiB).
const MAX_LINE_BYTES: usize = 1 << 20;

pub(crate) struct Person {
    pub login: String,
    pub password: String,
    token: String,
    page: String,
    /// Page messages, as they arrive on the live stream.
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    stream: tokio::task::JoinHandle<()>,
    /// The latest Page messages, for taps.
    offers: Vec<Value>,
    /// Learnt when first needed (the person's export names it).
    psid: Option<String>,
}

/// What the live stream brought.
pub(crate) enum Arrival {
    Message(Value),
    /// The stream ended or fell behind: messages may have been missed.
    Broken(String),
}

/// Something the person taps in a Page message.
enum Tap {
    QuickReply { mid: String, index: usize },
    Postback { mid: String, pointer: String },
}

impl Person {
    /// A new person, signed in, their live stream open before anything is sent.
    pub async fn join(api: &Api, fixture: &Fixture, n: usize) -> anyhow::Result<Self> {
        let login = format!("sbtest-{}-{n}", fixture.run);
        let password = switchboard_domain::credentials::random_urlsafe(12);
        api.console(Method::POST, "/persons", Some(json!({"name": format!("Tester {n}"), "login": login, "password": password})))
            .await
            .context("creating the conversation's person")?;
        let session = api.call(Method::POST, &format!("{}/person/v1/login", api.base), None, Some(&json!({"login": login, "password": password}))).await?;
        let token = session["access_token"].as_str().context("the sign-in answer has no access_token")?.to_string();
        let response = api
            .http
            .get(format!("{}/person/v1/events", api.base))
            .bearer_auth(&token)
            .send()
            .await
            .context("opening the person's live stream")?
            .error_for_status()
            .context("opening the person's live stream")?;
        // The stream is subscribed once its answer has begun: nothing sent from now on is missed.
        let (sender, arrivals) = mpsc::unbounded_channel();
        let page = fixture.page_id.clone();
        let stream = tokio::spawn(read_stream(response, page.clone(), sender));
        Ok(Self { login, password, token, page, arrivals, stream, offers: Vec::new(), psid: None })
    }

    /// The next Page message within `wait`, or `None`.
    pub async fn next_message(&mut self, wait: Duration) -> anyhow::Result<Option<Value>> {
        match tokio::time::timeout(wait, self.arrivals.recv()).await {
            Err(_) => Ok(None),
            Ok(None) => anyhow::bail!("the person's live stream ended"),
            Ok(Some(Arrival::Broken(why))) => anyhow::bail!("the person's live stream broke: {why}"),
            Ok(Some(Arrival::Message(message))) => {
                self.offers.push(message.clone());
                if self.offers.len() > OFFERS_KEPT {
                    self.offers.remove(0);
                }
                Ok(Some(message))
            }
        }
    }

    pub async fn say(&self, api: &Api, text: &str) -> Result<Value, CallError> {
        self.call(api, Method::POST, "messages", json!({"text": text})).await
    }

    pub async fn share_location(&self, api: &Api, lat: f64, long: f64) -> Result<Value, CallError> {
        self.call(api, Method::POST, "messages", json!({"location": {"lat": lat, "long": long}})).await
    }

    pub async fn get_started(&self, api: &Api, reference: Option<&str>) -> Result<Value, CallError> {
        let body = match reference {
            Some(reference) => json!({"ref": reference}),
            None => json!({}),
        };
        self.call(api, Method::POST, "get-started", body).await
    }

    pub async fn open_from_link(&self, api: &Api, reference: &str) -> Result<Value, CallError> {
        self.call(api, Method::POST, "referral", json!({"ref": reference})).await
    }

    pub async fn mark(&self, api: &Api, what: &str) -> Result<Value, CallError> {
        self.call(api, Method::POST, what, json!({})).await
    }

    /// Taps the button or quick reply titled (else with the payload) `name` in the
    /// latest Page messages; `quick_replies_only` for `QUICK_REPLY`.
    pub async fn tap(&self, api: &Api, name: &str, quick_replies_only: bool) -> anyhow::Result<Value> {
        let tap = self.find(name, quick_replies_only)?;
        let answer = match tap {
            Tap::QuickReply { mid, index } => self.call(api, Method::POST, "messages", json!({"quick_reply": {"mid": mid, "index": index}})).await,
            Tap::Postback { mid, pointer } => self.call(api, Method::POST, "postbacks", json!({"mid": mid, "button": pointer})).await,
        };
        answer.map_err(anyhow::Error::from)
    }

    fn find(&self, name: &str, quick_replies_only: bool) -> anyhow::Result<Tap> {
        // By title first, in the newest message that has it; then by payload.
        for by_payload in [false, true] {
            for message in self.offers.iter().rev() {
                let mid = message["mid"].as_str().unwrap_or_default().to_string();
                let matches = |choice: &Value| {
                    let field = if by_payload { "payload" } else { "title" };
                    choice[field].as_str() == Some(name)
                };
                if let Some(index) = message["quick_replies"].as_array().and_then(|replies| replies.iter().position(matches)) {
                    return Ok(Tap::QuickReply { mid, index });
                }
                if quick_replies_only {
                    continue;
                }
                let payload = &message["attachment"]["payload"];
                let mut pointers: Vec<(String, &Value)> = Vec::new();
                for (i, button) in payload["buttons"].as_array().into_iter().flatten().enumerate() {
                    pointers.push((format!("/buttons/{i}"), button));
                }
                for (e, element) in payload["elements"].as_array().into_iter().flatten().enumerate() {
                    for (i, button) in element["buttons"].as_array().into_iter().flatten().enumerate() {
                        pointers.push((format!("/elements/{e}/buttons/{i}"), button));
                    }
                }
                if let Some((pointer, button)) = pointers.into_iter().find(|(_, button)| matches(button)) {
                    return match button["type"].as_str() {
                        Some("postback") | None => Ok(Tap::Postback { mid, pointer }),
                        Some(kind) => anyhow::bail!("\"{name}\" is a {kind} button, which a person opens outside the thread: only postback buttons and quick replies can be tapped"),
                    };
                }
            }
        }
        let what = if quick_replies_only { "quick reply" } else { "button or quick reply" };
        anyhow::bail!("no {what} titled \"{name}\" (nor with that payload) in the bot's latest messages")
    }

    /// Sends a file as an attachment.
    pub async fn send_file(&self, api: &Api, name: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str(mime_of(name))?;
        let response = api
            .http
            .post(format!("{}/person/v1/threads/{}/attachments", api.base, self.page))
            .bearer_auth(&self.token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(CallError::Refused(super::world::Refused { status, body }).into())
        }
    }

    /// The person's PSID for the Page, from their own data export.
    pub async fn psid(&mut self, api: &Api) -> Option<String> {
        if self.psid.is_none() {
            let export = api.person(&self.token, Method::GET, "/me/export", None).await.ok()?;
            self.psid = export["threads"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|thread| thread["page"]["id"].as_str() == Some(&self.page))
                .and_then(|thread| thread["psid"].as_str().map(str::to_string));
        }
        self.psid.clone()
    }

    async fn call(&self, api: &Api, method: Method, edge: &str, body: Value) -> Result<Value, CallError> {
        api.person(&self.token, method, &format!("/threads/{}/{edge}", self.page), Some(body)).await
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        self.stream.abort();
    }
}

/// Reads the server-sent events: each `data:` line one JSON event; the Page's
/// messages in this thread are passed on.
async fn read_stream(response: reqwest::Response, page: String, arrivals: mpsc::UnboundedSender<Arrival>) {
    let mut body = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                let _ = arrivals.send(Arrival::Broken(error.to_string()));
                return;
            }
        };
        pending.extend_from_slice(&chunk);
        if pending.len() > MAX_LINE_BYTES && !pending.contains(&b'\n') {
            let _ = arrivals.send(Arrival::Broken(format!("a line over {MAX_LINE_BYTES} bytes")));
            return;
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Some(data) = std::str::from_utf8(&line).ok().and_then(|line| line.trim_end().strip_prefix("data:")) else { continue };
            let Ok(event) = serde_json::from_str::<Value>(data.trim_start()) else { continue };
            match event["type"].as_str() {
                Some("lagged") => {
                    let _ = arrivals.send(Arrival::Broken("it fell behind and dropped events".into()));
                }
                Some("message") if event["page_id"].as_str() == Some(&page) && event["message"]["from"] == "page" => {
                    let _ = arrivals.send(Arrival::Message(event["message"].clone()));
                }
                _ => {}
            }
        }
    }
}

/// What a bot sent, as the conversation format compares it.
pub(crate) fn bot_message(message: &Value) -> BotMessage {
    let choice = |value: &Value| Choice {
        title: value["title"].as_str().unwrap_or_default().to_string(),
        payload: value["payload"].as_str().or_else(|| value["url"].as_str()).map(str::to_string),
    };
    let choices = |value: &Value| value.as_array().into_iter().flatten().map(choice).collect::<Vec<_>>();
    let mut found = BotMessage { text: message["text"].as_str().map(str::to_string), quick_replies: choices(&message["quick_replies"]), ..Default::default() };
    let attachment = &message["attachment"];
    let payload = &attachment["payload"];
    match attachment["type"].as_str() {
        Some("template") => {
            found.buttons = choices(&payload["buttons"]);
            match payload["template_type"].as_str() {
                Some("button") => {
                    if found.text.is_none() {
                        found.text = payload["text"].as_str().map(str::to_string);
                    }
                }
                Some("media") => {
                    for element in payload["elements"].as_array().into_iter().flatten() {
                        found.media.extend(element["url"].as_str().map(str::to_string));
                        found.buttons.extend(choices(&element["buttons"]));
                    }
                }
                _ => {
                    for element in payload["elements"].as_array().into_iter().flatten() {
                        found.cards.push(Card {
                            title: element["title"].as_str().unwrap_or_default().to_string(),
                            subtitle: element["subtitle"].as_str().map(str::to_string),
                            image_url: element["image_url"].as_str().map(str::to_string),
                            buttons: choices(&element["buttons"]),
                        });
                    }
                }
            }
        }
        Some(_) => found.media.extend(payload["url"].as_str().map(str::to_string)),
        None => {}
    }
    found
}

/// The type a file is sent with, from its extension.
fn mime_of(name: &str) -> &'static str {
    let extension = name.rsplit('.').next().unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}
