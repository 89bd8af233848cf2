//! A person's client over the person API, with the live event stream read from a
//! real server-sent-events connection.

use crate::TestServer;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub struct PersonClient {
    pub base: String,
    pub token: String,
    pub person_id: i64,
    http: reqwest::Client,
    live: Arc<Mutex<Vec<Value>>>,
    stream: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for PersonClient {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.abort();
        }
    }
}

impl PersonClient {
    pub async fn sign_in(server: &TestServer, login: &str, password: &str) -> Self {
        let base = format!("{}/person/v1", server.url);
        let http = server.http.clone();
        let answer: Value = http
            .post(format!("{base}/login"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .expect("login answers")
            .json()
            .await
            .expect("login JSON");
        let token = answer["access_token"].as_str().unwrap_or_else(|| panic!("login failed: {answer}")).to_string();
        let person_id = answer["person"]["id"].as_i64().expect("person id");
        Self { base, token, person_id, http, live: Arc::new(Mutex::new(Vec::new())), stream: None }
    }

    /// Opens the live stream and returns once it is connected.
    pub async fn listen(&mut self) {
        let response = self.http.get(format!("{}/events", self.base)).bearer_auth(&self.token).send().await.expect("events answer");
        assert_eq!(response.status(), 200, "the event stream opens");
        let live = self.live.clone();
        self.stream = Some(tokio::spawn(async move {
            let mut bytes = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = bytes.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    for line in frame.lines() {
                        if let Some(data) = line.strip_prefix("data:") {
                            if let Ok(value) = serde_json::from_str(data.trim()) {
                                live.lock().unwrap().push(value);
                            }
                        }
                    }
                }
            }
        }));
    }

    /// Live events received so far.
    pub fn live_events(&self) -> Vec<Value> {
        self.live.lock().unwrap().clone()
    }

    /// Waits for a live event matching `matches`.
    pub async fn wait_live(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        crate::eventually(what, || {
            let found = self.live_events().into_iter().find(|e| matches(e));
            async move { found }
        })
        .await
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the person API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Writes to a Page; panics unless accepted. Answers the message.
    pub async fn send(&self, page: &str, text: &str) -> Value {
        let (status, message) = self.call(reqwest::Method::POST, &format!("/threads/{page}/messages"), Some(json!({"text": text}))).await;
        assert_eq!(status, 200, "sending failed: {message}");
        message
    }

    pub async fn history(&self, page: &str) -> Value {
        let (status, thread) = self.call(reqwest::Method::GET, &format!("/threads/{page}/messages"), None).await;
        assert_eq!(status, 200, "history failed: {thread}");
        thread
    }
}
