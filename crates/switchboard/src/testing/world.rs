//! The platform a run plays on and what it sets up there, as a developer would: an
//! embedded node on a temporary store with the virtual clock, or an existing
//! installation; then a Page, a live app granted the Page, the bot's webhook
//! subscribed through the real handshake, and a person per conversation. Only the
//! console, Graph and person APIs are used: nothing here reads a store.

use crate::{Node, Settings};
use anyhow::Context;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The Graph version the runner calls and gives the bot.
pub(crate) const GRAPH_VERSION: &str = "v21.0";

/// The permissions a Messenger bot uses, submitted for review and approved by the
/// operator so that the app can go live and answer anyone.
const PERMISSIONS: [&str; 5] = ["pages_messaging", "pages_show_list", "pages_manage_metadata", "pages_read_engagement", "human_agent"];

/// A refused API call: the status and the body the platform answered.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.body["error"]["message"].as_str() {
            Some(message) => write!(f, "{} (HTTP {}, code {})", message, self.status, self.body["error"]["code"]),
            None => write!(f, "HTTP {}: {}", self.status, self.body),
        }
    }
}

impl std::error::Error for Refused {}

/// A client of one installation's APIs, holding the operator credential.
#[derive(Clone)]
pub(crate) struct Api {
    pub http: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    pub base: String,
    operator: String,
}

impl Api {
    pub fn new(base: &str, operator: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().no_proxy().connect_timeout(Duration::from_secs(10)).pool_max_idle_per_host(64).build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_string(), operator: operator.to_string() })
    }

    pub fn graph_url(&self) -> String {
        format!("{}/{GRAPH_VERSION}", self.base)
    }

    /// One call; a non-2xx answer is a [`Refused`].
    pub async fn call(&self, method: Method, url: &str, token: Option<&str>, body: Option<&Value>) -> Result<Value, CallError> {
        let mut request = self.http.request(method, url).timeout(Duration::from_secs(30));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| CallError::Unreachable(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| CallError::Unreachable(format!("{url}: {e}")))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(CallError::Refused(Refused { status, body }))
        }
    }

    /// A console call as the operator, e.g. `console(POST, "/pages", ...)`.
    pub async fn console(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, CallError> {
        self.call(method, &format!("{}/console/v1{path}", self.base), Some(&self.operator), body.as_ref()).await
    }

    /// A Graph call, e.g. `graph(POST, "/me/messages", token, ...)`.
    pub async fn graph(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Result<Value, CallError> {
        self.call(method, &format!("{}{path}", self.graph_url()), Some(token), body.as_ref()).await
    }

    /// A person-API call with the person's session.
    pub async fn person(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Result<Value, CallError> {
        self.call(method, &format!("{}/person/v1{path}", self.base), Some(token), body.as_ref()).await
    }
}

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("{0}")]
    Refused(Refused),
    #[error("cannot reach the platform: {0}")]
    Unreachable(String),
}

/// An embedded node on a temporary store, with the virtual clock; its operator
/// credential is minted at start.
pub(crate) async fn start_node(data: &Path) -> anyhow::Result<(Node, String)> {
    let mut settings = Settings { data: data.to_path_buf(), listen: "127.0.0.1:0".into(), virtual_clock: true, ..Default::default() };
    // The bot runs on this machine's loopback.
    settings.outbound.allow_private_addresses = true;
    let node = Node::start(&settings).await?;
    let operator = node.platform.directory.init_operator().await?.context("a fresh store mints its operator credential")?;
    Ok((node, operator))
}

/// What the run set up, and what the bot is given.
#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    /// A short random id that names this run's objects.
    pub run: String,
    pub page_id: String,
    pub page_username: String,
    pub app_id: String,
    pub app_secret: String,
    pub page_token: String,
    pub verify_token: String,
}

impl Fixture {
    /// Creates the Page, its admin, and a live app granted the Page.
    pub async fn set_up(api: &Api) -> anyhow::Result<Self> {
        let run = switchboard_domain::credentials::random_urlsafe(6).to_lowercase().replace(['-', '_'], "x");
        let password = switchboard_domain::credentials::random_urlsafe(18);
        let admin = api
            .console(Method::POST, "/persons", Some(json!({"name": "Test Page Admin", "login": format!("sbtest-{run}-admin"), "password": password})))
            .await
            .context("creating the Page's admin")?;
        let username = format!("sbtest-{run}");
        let page = api.console(Method::POST, "/pages", Some(json!({"name": format!("Test Page {run}"), "username": username}))).await.context("creating the Page")?;
        let page_id = string(&page["id"], "the Page's id")?;
        api.console(Method::POST, &format!("/pages/{page_id}/roles"), Some(json!({"person_id": admin["id"], "role": "admin"}))).await.context("making the admin")?;
        let app = api.console(Method::POST, "/apps", Some(json!({"name": format!("Bot under test {run}")}))).await.context("creating the app")?;
        let app_id = string(&app["id"], "the app's id")?;
        let app_secret = string(&app["secret"], "the app's secret")?;
        api.console(Method::POST, &format!("/apps/{app_id}/review"), Some(json!({"permissions": PERMISSIONS, "note": "A bot under test"})))
            .await
            .context("submitting the app for review")?;
        for permission in PERMISSIONS {
            api.console(Method::POST, &format!("/apps/{app_id}/review/{permission}"), Some(json!({"approve": true}))).await.context("approving the app's review")?;
        }
        api.console(Method::PATCH, &format!("/apps/{app_id}"), Some(json!({"mode": "live"}))).await.context("taking the app live")?;
        let granted = api
            .console(Method::POST, &format!("/pages/{page_id}/apps"), Some(json!({"app_id": app_id, "person_id": admin["id"]})))
            .await
            .context("granting the app the Page")?;
        let page_token = string(&granted["access_token"], "the Page token")?;
        let verify_token = switchboard_domain::credentials::random_urlsafe(12);
        Ok(Self { run, page_id, page_username: username, app_id, app_secret, page_token, verify_token })
    }

    /// The app's webhook (through the platform's handshake with the bot) and the app
    /// on the Page.
    pub async fn subscribe(&self, api: &Api, webhook: &str) -> anyhow::Result<()> {
        let app_token = format!("{}|{}", self.app_id, self.app_secret);
        let body = json!({"object": "page", "callback_url": webhook, "verify_token": self.verify_token, "fields": crate::BOT_FIELDS.join(",")});
        api.graph(Method::POST, &format!("/{}/subscriptions", self.app_id), &app_token, Some(body))
            .await
            .with_context(|| format!("subscribing the bot's webhook {webhook} (the platform's handshake with the bot)"))?;
        let body = json!({"subscribed_fields": crate::BOT_FIELDS.join(",")});
        api.graph(Method::POST, &format!("/{}/subscribed_apps", self.page_id), &self.page_token, Some(body)).await.context("installing the app on the Page")?;
        Ok(())
    }

    /// The environment a bot is started with, in the names bots already read.
    pub fn bot_environment(&self, api: &Api, port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("PAGE_ACCESS_TOKEN", self.page_token.clone()),
            ("MESSENGER_ACCESS_TOKEN", self.page_token.clone()),
            ("APP_SECRET", self.app_secret.clone()),
            ("MESSENGER_APP_SECRET", self.app_secret.clone()),
            ("APP_ID", self.app_id.clone()),
            ("MESSENGER_APP_ID", self.app_id.clone()),
            ("PAGE_ID", self.page_id.clone()),
            ("MESSENGER_PAGE_ID", self.page_id.clone()),
            ("VERIFY_TOKEN", self.verify_token.clone()),
            ("MESSENGER_VERIFY_TOKEN", self.verify_token.clone()),
            ("GRAPH_API_URL", api.graph_url()),
            ("GRAPH_API_ORIGIN", api.base.clone()),
            ("PORT", port.to_string()),
        ]
    }
}

fn string(value: &Value, what: &str) -> anyhow::Result<String> {
    value.as_str().map(str::to_string).with_context(|| format!("{what} is missing from the platform's answer"))
}
