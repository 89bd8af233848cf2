//! The test kit: a real Switchboard node on a port-0 socket with a temporary SQLite
//! store, a webhook receiver that verifies both signatures and can be told to fail,
//! a person client that reads the live event stream, and fixture builders that go
//! through the console and Graph APIs like any client.

pub mod browser;
mod clock;
mod clock_skew;
mod cluster;
mod echo_bot;
mod fixtures;
mod hostile_receiver;
mod listen;
mod media;
mod person;
mod private_postgres;
mod receiver;
pub mod routes;
mod small_disk;

pub use clock::ManualClock;
pub use clock_skew::{clock_of, set_skew, SkewRefused, FAULT_CLOCK_ENV};
pub use cluster::{fresh_database, fresh_database_on, switchboard_binary, Listening, NodeProcess, NodeStore, TcpProxy};
pub use echo_bot::{EchoBot, InstallingBot, PullingBot, Tap};
pub use listen::{long_poll, ListenProcess};
pub use fixtures::{Bot, TestApp, TestPage, TestPerson, ALL_CORE_FIELDS};
pub use hostile_receiver::{Behaviour, Connection, HostileBot, HostileReceiver};
pub use media::{MediaFile, MediaServer, PNG};
pub use person::PersonClient;
pub use private_postgres::{is_retry_later, missing_messages, PrivatePostgres, Shutdown};
pub use receiver::{Received, WebhookReceiver, FAILURE_BODY};
pub use small_disk::{is_storage_full_refusal, SmallDisk, SKIP_MOUNT};

use serde_json::Value;
use std::time::Duration;
use switchboard::{Node, Settings};

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    node: Option<Node>,
    pub url: String,
    pub operator: String,
    pub settings: Settings,
    /// Keeps the data directory alive as long as the server.
    pub dir: std::sync::Arc<tempfile::TempDir>,
    pub http: reqwest::Client,
}

/// Settings for tests: a fresh data directory, port 0, quick retries.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.data = dir.to_path_buf();
    settings.listen = "127.0.0.1:0".into();
    settings.webhooks.retry_initial_ms = 100;
    settings.webhooks.retry_max_ms = 400;
    settings.webhooks.timeout_secs = 5;
    // Receivers and media servers of the tests listen on loopback.
    settings.outbound.allow_private_addresses = true;
    settings
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with adjusted settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let mut settings = test_settings(dir.path());
        adjust(&mut settings);
        Self::start_on(dir, settings).await
    }

    /// Starts with adjusted settings on a clock the test moves.
    pub async fn start_with_clock(clock: std::sync::Arc<ManualClock>, adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let mut settings = test_settings(dir.path());
        adjust(&mut settings);
        let node = Node::start_with_clock(&settings, clock).await.expect("the node starts");
        Self::around(node, dir, settings).await
    }

    /// Starts on an existing data directory (to test restarts).
    pub async fn start_on(dir: std::sync::Arc<tempfile::TempDir>, settings: Settings) -> Self {
        let node = Node::start(&settings).await.expect("the node starts");
        Self::around(node, dir, settings).await
    }

    async fn around(node: Node, dir: std::sync::Arc<tempfile::TempDir>, settings: Settings) -> Self {
        let operator = node.platform.directory.init_operator().await.expect("operator").unwrap_or_default();
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client");
        Self { url: node.url(), node: Some(node), operator, settings, dir, http }
    }

    /// A handle on a node running in another process, for the same fixtures.
    pub fn external(url: &str, operator: &str) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client");
        Self { node: None, url: url.to_string(), operator: operator.to_string(), settings: Settings::default(), dir, http }
    }

    pub fn platform(&self) -> &switchboard_app::Platform {
        &self.node.as_ref().expect("running").platform
    }

    /// The running node's store, for benchmarks that fill it directly.
    pub fn store(&self) -> &std::sync::Arc<dyn switchboard_store::Store> {
        &self.node.as_ref().expect("running").store
    }

    /// The Graph API base, versioned.
    pub fn graph(&self) -> String {
        format!("{}/v21.0", self.url)
    }

    /// Graceful shutdown.
    pub async fn stop(mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }

    /// A console call with the operator credential; panics unless it succeeds.
    pub async fn console(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, value) = self.console_as(&self.operator.clone(), method, path, body).await;
        assert!(status.is_success(), "console {path} failed: {status} {value}");
        value
    }

    pub async fn console_as(&self, token: &str, method: reqwest::Method, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        let response = self
            .http
            .request(method, format!("{}/console/v1{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("the console answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986), for query strings
/// and form bodies built by hand.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `check` until it returns `Some`, up to [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
