//! `echo-bot --pull`: the bot without a webhook anyone must reach. It long-polls the
//! platform's pull API, `GET /{app-id}/updates`, with its app token, and answers each
//! update's envelope (the very body a webhook POST would carry) as `receive` answers
//! a POST, in order, each before the next. Asking with the next offset acknowledges
//! the updates before it (as Telegram's getUpdates does), so updates the bot had not
//! finished when it stopped come again when it starts.
//!
//! Configuration (environment), besides the bot's: ECHO_BOT_APP_ID.

use crate::{Bot, Envelope};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long the platform may hold a poll open while it has nothing to hand out.
const WAIT_SECONDS: u64 = 25;
/// How long the bot waits for a poll's answer: the platform's wait, and some slack.
const POLL_TIMEOUT: Duration = Duration::from_secs(35);
/// The most updates one poll asks for (the API's maximum).
const BATCH: u32 = 100;
/// The wait after a failed poll; it doubles after each failure up to
/// `LONGEST_BACKOFF`, and a poll that succeeds resets it.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const LONGEST_BACKOFF: Duration = Duration::from_secs(10);

/// One poll's answer.
#[derive(Deserialize)]
struct Updates {
    data: Vec<Update>,
    /// The offset to ask with next; asking with it acknowledges `data`.
    next_offset: i64,
}

#[derive(Deserialize)]
struct Update {
    update_id: i64,
    /// Kept as JSON until it is answered, so that one malformed envelope is skipped
    /// rather than failing its whole batch again and again.
    envelope: Value,
}

/// The app whose updates `--pull` pulls (its token is `{app-id}|{app-secret}`).
pub fn app_id_from_env() -> anyhow::Result<String> {
    std::env::var("ECHO_BOT_APP_ID").map_err(|_| anyhow::anyhow!("--pull needs ECHO_BOT_APP_ID, the app whose updates the bot pulls"))
}

/// Polls for updates and answers them, for as long as the bot runs; a failed poll
/// is logged and asked again after a backoff, with the same offset.
pub async fn pull_forever(bot: Arc<Bot>, app_id: String) {
    let url = format!("{}/{app_id}/updates", bot.graph_url);
    // Meta's app access token form, which the platform accepts.
    let app_token = format!("{app_id}|{}", bot.app_secret);
    let mut offset = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        match poll(&bot.http, &url, &app_token, offset).await {
            Ok(updates) => {
                backoff = FIRST_BACKOFF;
                for update in updates.data {
                    // No signature to check, unlike a webhook POST: the update is the
                    // answer to the bot's own HTTPS call, authenticated with the app token.
                    match serde_json::from_value::<Envelope>(update.envelope) {
                        Ok(envelope) => bot.answer(envelope).await,
                        Err(error) => tracing::warn!(update_id = update.update_id, %error, "skipped an update whose envelope is no webhook body"),
                    }
                }
                offset = updates.next_offset;
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), retry_in = ?backoff, "polling for updates failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
            }
        }
    }
}

/// One long poll from `offset`. The token goes in the header, not the URL, so that
/// errors naming the URL do not log the app secret.
async fn poll(http: &reqwest::Client, url: &str, app_token: &str, offset: i64) -> anyhow::Result<Updates> {
    let query = [("offset", offset.to_string()), ("limit", BATCH.to_string()), ("timeout", WAIT_SECONDS.to_string())];
    let response = http.get(url).query(&query).bearer_auth(app_token).timeout(POLL_TIMEOUT).send().await?;
    let status = response.status();
    if status.is_success() {
        return Ok(response.json().await?);
    }
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let message = answer["error"]["message"].as_str().unwrap_or("no Graph error in the answer");
    if status == reqwest::StatusCode::CONFLICT {
        anyhow::bail!("another poller of this app is polling now (HTTP {status}: {message})");
    }
    anyhow::bail!("HTTP {status}: {message}")
}
