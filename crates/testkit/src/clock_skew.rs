//! The fault clock, for fault tests and the fault runner: a node started with
//! `fault_clock = true` reads the system clock plus a skew that the operator sets
//! through the console, forwards or backwards, as a wall clock that jumps would read.
//! The machine's own clock is never touched.

use serde_json::{json, Value};
use switchboard_domain::Millis;

/// The setting, as environment, that starts a node on the fault clock.
pub const FAULT_CLOCK_ENV: (&str, &str) = ("SWITCHBOARD_FAULT_CLOCK", "true");

/// The console's refusal of a skew: its HTTP status and Graph error.
#[derive(Debug, Clone, PartialEq)]
pub struct SkewRefused {
    pub status: u16,
    pub error: Value,
}

/// Sets the clock of the node at `node_url` to run `skew_ms` from the system clock
/// (`POST /console/v1/clock {"skew_ms"}` as the operator); answers the node's time
/// then. A node without the fault clock, or a caller who is not the operator, is
/// refused.
pub async fn set_skew(node_url: &str, operator_credential: &str, skew_ms: Millis) -> Result<Millis, SkewRefused> {
    let (status, answer) = clock_request(node_url, operator_credential, Some(json!({ "skew_ms": skew_ms }))).await;
    match answer["now"].as_i64() {
        Some(now) if status == 200 => Ok(now),
        _ => Err(SkewRefused { status, error: answer["error"].clone() }),
    }
}

/// The node's clock as the console shows it: `now`, `virtual`, and `skew_ms` on a
/// fault clock.
pub async fn clock_of(node_url: &str, credential: &str) -> Value {
    let (status, answer) = clock_request(node_url, credential, None).await;
    assert_eq!(status, 200, "the console shows the clock: {answer}");
    answer
}

/// `GET` (no body) or `POST` the console's clock.
async fn clock_request(node_url: &str, credential: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/console/v1/clock", node_url.trim_end_matches('/'));
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client");
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.get(url),
    };
    let response = request.bearer_auth(credential).send().await.expect("the console answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
