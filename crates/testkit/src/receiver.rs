//! A webhook receiver like a bot's: answers the handshake, verifies
//! `X-Hub-Signature` and `X-Hub-Signature-256` against the app secret over the
//! exact bytes, and records every POST. It can be told to fail with a status.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One POST as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Vec<u8>,
    pub json: Value,
    pub sha1_valid: bool,
    pub sha256_valid: bool,
    /// The status this receiver answered.
    pub answered: u16,
    /// When it arrived whole.
    pub at: std::time::Instant,
}

#[derive(Clone)]
pub struct WebhookReceiver {
    pub url: String,
    pub verify_token: String,
    state: Arc<ReceiverState>,
}

struct ReceiverState {
    secret: Mutex<String>,
    verify_token: String,
    posts: Mutex<Vec<Received>>,
    handshakes: Mutex<Vec<HashMap<String, String>>>,
    /// 0 answers 200; anything else is answered as that status.
    fail_with: AtomicU16,
    /// When set, the handshake answers this body instead of the challenge.
    wrong_challenge: Mutex<Option<String>>,
    /// While true, POSTs are received but not answered.
    holding: tokio::sync::watch::Sender<bool>,
    /// Each POST is answered after up to this many milliseconds (a bot at work), so
    /// that a fault can land while deliveries are in flight.
    think_ms: AtomicU64,
}

fn sha1_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn sha256_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl WebhookReceiver {
    /// Starts listening on a port-0 socket, checking signatures with `secret`.
    pub async fn start(secret: &str) -> Self {
        let verify_token = "test-verify-token".to_string();
        let state = Arc::new(ReceiverState {
            secret: Mutex::new(secret.to_string()),
            verify_token: verify_token.clone(),
            posts: Mutex::new(Vec::new()),
            handshakes: Mutex::new(Vec::new()),
            fail_with: AtomicU16::new(0),
            wrong_challenge: Mutex::new(None),
            holding: tokio::sync::watch::channel(false).0,
            think_ms: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let app = Router::new().route("/webhook", get(handshake).post(receive)).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver serves") });
        Self { url, verify_token, state }
    }

    pub fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = secret.to_string();
    }

    /// Answer every POST with `status` (0 to succeed again).
    pub fn fail_with(&self, status: u16) {
        self.state.fail_with.store(status, Ordering::SeqCst);
    }

    /// Answer handshakes with this body instead of the challenge.
    pub fn answer_handshake_with(&self, body: Option<&str>) {
        *self.state.wrong_challenge.lock().unwrap() = body.map(str::to_string);
    }

    /// While `true`, POSTs are recorded as they arrive (answered 0) and left
    /// unanswered until released; then they are answered as usual.
    pub fn hold(&self, holding: bool) {
        self.state.holding.send_replace(holding);
    }

    /// Answer each POST after a random pause of up to `most` (0: at once).
    pub fn think(&self, most: std::time::Duration) {
        self.state.think_ms.store(most.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn posts(&self) -> Vec<Received> {
        self.state.posts.lock().unwrap().clone()
    }

    pub fn handshakes(&self) -> Vec<HashMap<String, String>> {
        self.state.handshakes.lock().unwrap().clone()
    }

    /// Every `messaging` event of the POSTs this receiver acknowledged, in arrival order.
    pub fn acknowledged_events(&self) -> Vec<Value> {
        self.acknowledged_events_at().into_iter().map(|(_, event)| event).collect()
    }

    /// Every `messaging` event of the POSTs this receiver acknowledged, with when
    /// its POST arrived, in arrival order.
    pub fn acknowledged_events_at(&self) -> Vec<(std::time::Instant, Value)> {
        self.posts()
            .into_iter()
            .filter(|p| p.answered == 200)
            .flat_map(|p| messaging_events(&p.json).into_iter().map(move |event| (p.at, event)))
            .collect()
    }

    /// Every `standby` event of the POSTs this receiver acknowledged, in arrival order.
    pub fn acknowledged_standby(&self) -> Vec<Value> {
        self.posts()
            .into_iter()
            .filter(|p| p.answered == 200)
            .flat_map(|p| p.json["entry"].as_array().cloned().unwrap_or_default())
            .flat_map(|entry| entry["standby"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Every acknowledged event with the array it came in (`messaging` or
    /// `standby`), in arrival order; panics on an entry holding both, or an array
    /// holding more than one event (SDKs read only the first).
    pub fn acknowledged_channels(&self) -> Vec<(&'static str, Value)> {
        let mut events = Vec::new();
        for post in self.posts().into_iter().filter(|p| p.answered == 200) {
            for entry in post.json["entry"].as_array().cloned().unwrap_or_default() {
                let messaging = entry["messaging"].as_array().cloned().unwrap_or_default();
                let standby = entry["standby"].as_array().cloned().unwrap_or_default();
                assert!(messaging.is_empty() || standby.is_empty(), "an entry with both messaging and standby: {entry}");
                assert!(messaging.len() + standby.len() == 1, "one event per entry: {entry}");
                events.extend(messaging.into_iter().map(|e| ("messaging", e)));
                events.extend(standby.into_iter().map(|e| ("standby", e)));
            }
        }
        events
    }

    /// Waits until an acknowledged `standby` event satisfies `matches`, and returns it.
    pub async fn wait_for_standby(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        crate::eventually(what, || {
            let found = self.acknowledged_standby().into_iter().find(|e| matches(e));
            async move { found }
        })
        .await
    }

    /// Waits until an acknowledged event satisfies `matches`, and returns it.
    pub async fn wait_for(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        crate::eventually(what, || {
            let found = self.acknowledged_events().into_iter().find(|e| matches(e));
            async move { found }
        })
        .await
    }
}

/// The `messaging` events of a webhook body, in order.
pub(crate) fn messaging_events(body: &Value) -> Vec<Value> {
    body["entry"].as_array().into_iter().flatten().flat_map(|entry| entry["messaging"].as_array().cloned().unwrap_or_default()).collect()
}

async fn handshake(State(state): State<Arc<ReceiverState>>, Query(query): Query<HashMap<String, String>>) -> (StatusCode, String) {
    state.handshakes.lock().unwrap().push(query.clone());
    if let Some(body) = state.wrong_challenge.lock().unwrap().clone() {
        return (StatusCode::OK, body);
    }
    let token_ok = query.get("hub.verify_token") == Some(&state.verify_token);
    match (query.get("hub.mode").map(String::as_str), query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if token_ok => (StatusCode::OK, challenge.clone()),
        _ => (StatusCode::FORBIDDEN, "Forbidden".into()),
    }
}

/// What a failing receiver says, for the attempt log's excerpt.
pub const FAILURE_BODY: &str = "{\"error\":\"failing on purpose\"}";

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let at = std::time::Instant::now();
    let mut holding = state.holding.subscribe();
    if *holding.borrow() {
        state.posts.lock().unwrap().push(Received {
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            body: body.to_vec(),
            sha1_valid: false,
            sha256_valid: false,
            answered: 0,
            at,
        });
        let _ = holding.wait_for(|held| !held).await;
        // A sender that died meanwhile never reads this answer.
        return (StatusCode::SERVICE_UNAVAILABLE, FAILURE_BODY);
    }
    let think_ms = state.think_ms.load(Ordering::SeqCst);
    if think_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(rand::random::<u64>() % think_ms)).await;
    }
    let secret = state.secret.lock().unwrap().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let sha1_valid = header("x-hub-signature") == format!("sha1={}", sha1_hex(&secret, &body));
    let sha256_valid = header("x-hub-signature-256") == format!("sha256={}", sha256_hex(&secret, &body));
    let failing = state.fail_with.load(Ordering::SeqCst);
    let status = if !sha1_valid || !sha256_valid {
        StatusCode::FORBIDDEN
    } else if failing != 0 {
        StatusCode::from_u16(failing).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    } else {
        StatusCode::OK
    };
    state.posts.lock().unwrap().push(Received {
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
        sha1_valid,
        sha256_valid,
        answered: status.as_u16(),
        at,
    });
    (status, if status.is_success() { "" } else { FAILURE_BODY })
}
