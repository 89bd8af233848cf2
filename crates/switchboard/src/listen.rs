//! `switchboard listen`: a bot on a machine with no public address receives its
//! app's webhooks through an outbound connection. It opens the app's stream
//! (`GET /{app-id}/listen`, server-sent events), POSTs each delivery to the local
//! URL with exactly the body and both signatures the callback would get, and
//! answers the server with the bot's status: a 2xx settles the events, anything
//! else is retried by the server like a failed callback. It reconnects with
//! backoff; what was handed out and not answered goes again (at least once, in
//! order per thread).

use anyhow::Context;
use switchboard_delivery::error_chain;
use serde::Deserialize;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What `listen` needs, from flags, the environment or a config file.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// The Switchboard server, `http(s)://host:port` (a Graph base URL also works).
    pub server: String,
    pub app_id: String,
    /// The app token, or `<app-id>|<app-secret>`.
    pub token: String,
    pub forward_to: String,
    /// Only these webhook fields are forwarded; the others are settled unsent.
    pub events: Vec<String>,
    pub print_json: bool,
    /// How long the local bot may take to answer (the callback's 20 s).
    pub timeout: Duration,
    /// Accept self-signed certificates on an https server (local development).
    pub accept_invalid_certs: bool,
}

/// A config file's keys (`--config`), each overridden by its flag or variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenFile {
    pub server: Option<String>,
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
    pub app_token: Option<String>,
    pub forward_to: Option<String>,
    pub events: Option<Vec<String>>,
}

impl ListenFile {
    pub fn read(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid listen config", path.display()))
    }
}

#[derive(Deserialize)]
struct Ready {
    listener: String,
}

#[derive(Deserialize)]
struct Delivery {
    events: Vec<DeliveredEvent>,
    /// Events of the same threads left out by `--events`: named in the answer, so
    /// that they are settled with the delivery.
    #[serde(default)]
    skipped: Vec<i64>,
    body: String,
    signature: String,
    signature_256: String,
}

#[derive(Deserialize)]
struct DeliveredEvent {
    id: i64,
    field: String,
    page_id: String,
}

/// Why a stream ended.
enum Ended {
    /// After it was ready: reconnect at once.
    AfterReady,
    /// Before: back off.
    Refused(anyhow::Error),
    /// The server refused the credentials or the request: retrying cannot help.
    Fatal(anyhow::Error),
}

/// Listens until the process is stopped (or the server refuses the credentials).
pub async fn run(options: ListenOptions) -> anyhow::Result<()> {
    anyhow::ensure!(options.forward_to.starts_with("http://") || options.forward_to.starts_with("https://"), "--forward-to must be an http(s) URL");
    anyhow::ensure!(options.server.starts_with("http://") || options.server.starts_with("https://"), "--server must be an http(s) URL");
    let server = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(options.accept_invalid_certs)
        .user_agent(concat!("switchboard-listen/", env!("CARGO_PKG_VERSION")))
        .build()?;
    // The bot is called as the platform calls a callback: no redirects, a timeout.
    let bot = reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut backoff = Duration::from_millis(500);
    loop {
        match session(&options, &server, &bot).await {
            Ended::AfterReady => {
                eprintln!("the stream ended; reconnecting");
                backoff = Duration::from_millis(500);
                continue;
            }
            Ended::Refused(error) => eprintln!("cannot listen: {error:#}; retrying in {:.1} s", backoff.as_secs_f64()),
            Ended::Fatal(error) => return Err(error),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

fn stream_url(options: &ListenOptions) -> String {
    let mut url = format!("{}/{}/listen", options.server.trim_end_matches('/'), options.app_id);
    if !options.events.is_empty() {
        url.push_str("?fields=");
        url.push_str(&options.events.join(","));
    }
    url
}

async fn session(options: &ListenOptions, server: &reqwest::Client, bot: &reqwest::Client) -> Ended {
    let response = match server.get(stream_url(options)).bearer_auth(&options.token).header("Accept", "text/event-stream").send().await {
        Ok(response) => response,
        Err(error) => return Ended::Refused(error.into()),
    };
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let error = anyhow::anyhow!("the server answered HTTP {}: {}", status.as_u16(), text.chars().take(500).collect::<String>());
        // A wrong token or app never gets better by waiting.
        return if matches!(status.as_u16(), 400 | 401 | 403 | 404) { Ended::Fatal(error) } else { Ended::Refused(error) };
    }
    let mut response = response;
    let mut buffer: Vec<u8> = Vec::new();
    let mut listener: Option<String> = None;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                if listener.is_none() {
                    return Ended::Refused(error.into());
                }
                eprintln!("the stream broke: {error}");
                break;
            }
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = find_event_end(&buffer) {
            let raw: Vec<u8> = buffer.drain(..end.0 + end.1).collect();
            let (event, data) = parse_event(&String::from_utf8_lossy(&raw[..end.0]));
            match event.as_deref() {
                Some("ready") => match serde_json::from_str::<Ready>(&data) {
                    Ok(ready) => {
                        println!("Ready! Forwarding app {}'s webhooks to {} (listener {})", options.app_id, options.forward_to, ready.listener);
                        listener = Some(ready.listener);
                    }
                    Err(error) => return Ended::Refused(anyhow::anyhow!("the server's ready event is not understood: {error}")),
                },
                Some("delivery") => match (serde_json::from_str::<Delivery>(&data), &listener) {
                    (Ok(delivery), Some(listener)) => {
                        let (options, server, bot, listener) = (options.clone(), server.clone(), bot.clone(), listener.clone());
                        // Deliveries in flight together are of different threads: the
                        // server hands out a thread's next run only once this one is answered.
                        tokio::spawn(async move { forward(&options, &server, &bot, &listener, delivery).await });
                    }
                    (Err(error), _) => eprintln!("a delivery is not understood (it goes again after its lease): {error}"),
                    (_, None) => eprintln!("a delivery came before the stream was ready; ignored"),
                },
                _ => {}
            }
        }
    }
    if listener.is_some() {
        Ended::AfterReady
    } else {
        Ended::Refused(anyhow::anyhow!("the stream ended before it was ready"))
    }
}

/// Where the first event in `buffer` ends: its length and the separator's.
fn find_event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|at| (at, 2));
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|at| (at, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// An event's name and data (its `data:` lines joined), comments skipped.
fn parse_event(text: &str) -> (Option<String>, String) {
    let (mut event, mut data) = (None, Vec::new());
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
    }
    (event, data.join("\n"))
}

/// POSTs one delivery to the bot and tells the server what it answered.
async fn forward(options: &ListenOptions, server: &reqwest::Client, bot: &reqwest::Client, listener: &str, delivery: Delivery) {
    let started = Instant::now();
    let sent = bot
        .post(&options.forward_to)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature", &delivery.signature)
        .header("X-Hub-Signature-256", &delivery.signature_256)
        .body(delivery.body.clone())
        .send()
        .await;
    let (status, error, excerpt) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (Some(status), None, if (200..300).contains(&status) { String::new() } else { text.chars().take(1024).collect() })
        }
        Err(error) if error.is_timeout() => (None, Some("timeout".to_string()), String::new()),
        Err(error) if error.is_connect() => (None, Some(format!("connect: {}", error_chain(&error))), String::new()),
        Err(error) => (None, Some(error_chain(&error)), String::new()),
    };
    let latency = started.elapsed();
    print_lines(options, &delivery, status, error.as_deref(), latency);
    let answer = serde_json::json!({
        "listener": listener,
        "events": delivery.events.iter().map(|e| e.id).chain(delivery.skipped.iter().copied()).map(|id| id.to_string()).collect::<Vec<_>>(),
        "status": status,
        "error": error,
        "latency_ms": latency.as_millis() as i64,
        "forward_to": options.forward_to,
        "excerpt": excerpt,
    });
    let url = format!("{}/{}/listen", options.server.trim_end_matches('/'), options.app_id);
    match server.post(&url).bearer_auth(&options.token).json(&answer).timeout(Duration::from_secs(30)).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => eprintln!("the server refused an answer (HTTP {}); the events go again after their lease", response.status().as_u16()),
        Err(error) => eprintln!("cannot answer the server ({error}); the events go again after their lease"),
    }
}

/// One line per event: time, field, Page, PSID, the bot's status, the latency.
fn print_lines(options: &ListenOptions, delivery: &Delivery, status: Option<u16>, error: Option<&str>, latency: Duration) {
    let body: serde_json::Value = serde_json::from_str(&delivery.body).unwrap_or_default();
    let entries = body.get("entry").and_then(|e| e.as_array()).cloned().unwrap_or_default();
    let outcome = match (status, error) {
        (Some(status), _) => status.to_string(),
        (None, Some(error)) => format!("failed ({error})"),
        (None, None) => "failed".to_string(),
    };
    for (index, event) in delivery.events.iter().enumerate() {
        let psid = entries.get(index).map(person_of).unwrap_or_default();
        println!(
            "{}  {:<26} page {}  psid {}  → {}  {:.1} ms  [event {}]",
            utc_time(),
            event.field,
            event.page_id,
            if psid.is_empty() { "-" } else { &psid },
            outcome,
            latency.as_secs_f64() * 1000.0,
            event.id
        );
    }
    if options.print_json {
        println!("{}", delivery.body);
    }
}

/// The person of an entry's event: the recipient of an echo, else the sender.
fn person_of(entry: &serde_json::Value) -> String {
    let Some(event) = entry.get("messaging").or_else(|| entry.get("standby")).and_then(|m| m.get(0)) else { return String::new() };
    let echo = event.pointer("/message/is_echo").and_then(|v| v.as_bool()).unwrap_or(false);
    let side = if echo { "recipient" } else { "sender" };
    event.pointer(&format!("/{side}/id")).and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

/// `HH:MM:SS.mmm` UTC.
fn utc_time() -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let seconds = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}.{:03}", seconds / 3600, (seconds / 60) % 60, seconds % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_and_read() {
        let buffer = b"event: ready\ndata: {\"listener\":\"a\"}\n\n: keep-alive\n\nevent: delivery\r\ndata: x\r\n\r\n";
        let (end, separator) = find_event_end(buffer).unwrap();
        assert_eq!(parse_event(std::str::from_utf8(&buffer[..end]).unwrap()), (Some("ready".into()), "{\"listener\":\"a\"}".into()));
        let rest = &buffer[end + separator..];
        let (end, separator) = find_event_end(rest).unwrap();
        assert_eq!(parse_event(std::str::from_utf8(&rest[..end]).unwrap()), (None, String::new()), "a comment is no event");
        let rest = &rest[end + separator..];
        let (end, _) = find_event_end(rest).unwrap();
        assert_eq!(parse_event(std::str::from_utf8(&rest[..end]).unwrap()), (Some("delivery".into()), "x".into()));
    }

    #[test]
    fn the_person_of_an_echo_is_its_recipient() {
        let echo = serde_json::json!({"messaging": [{"sender": {"id": "page"}, "recipient": {"id": "psid"}, "message": {"is_echo": true}}]});
        let message = serde_json::json!({"messaging": [{"sender": {"id": "psid"}, "recipient": {"id": "page"}, "message": {"text": "hi"}}]});
        assert_eq!(person_of(&echo), "psid");
        assert_eq!(person_of(&message), "psid");
    }
}
