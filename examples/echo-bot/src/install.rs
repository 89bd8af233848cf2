//! `echo-bot --install`: the bot as an app's own website, installed by Page admins the
//! way Meta's platform does it. `GET /install` sends the admin to the platform's
//! login dialog; the dialog sends them back to `GET /installed` with a code, which
//! the bot exchanges for a user token, lists the Pages granted to it
//! (`/me/accounts`), and subscribes each (`/{page-id}/subscribed_apps`) with its
//! Page token. From then on it answers on those Pages.
//!
//! Configuration (environment), besides the bot's: ECHO_BOT_APP_ID; ECHO_BOT_PUBLIC_URL,
//! where browsers and the platform reach the bot (default: its listening address);
//! ECHO_BOT_DIALOG_URL (default: the Graph URL's origin + `/dialog/oauth`). The
//! redirect URI `<public URL>/installed` must be registered for the app.

use crate::{env, Bot};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// What the bot asks Page admins for.
const SCOPE: &str = "pages_messaging,pages_show_list,pages_manage_metadata";
/// The webhook fields it subscribes each Page to.
const FIELDS: &str = "messages,messaging_postbacks,messaging_optins,messaging_referrals,messaging_account_linking,messaging_handovers,standby";

#[derive(Clone)]
pub struct Site {
    bot: Arc<Bot>,
    app_id: String,
    public_url: String,
    dialog_url: String,
    /// `state` values handed to the dialog and not yet seen back (against CSRF).
    states: Arc<Mutex<HashSet<String>>>,
}

/// A hard-to-guess token from the standard library's randomly keyed hasher.
fn random_state() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    let high = hasher.finish();
    let low = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("{high:016x}{low:016x}")
}

/// `http://host:port/v21.0` → `http://host:port`.
fn origin_of(graph_url: &str) -> &str {
    match graph_url.rsplit_once('/') {
        Some((origin, last)) if last.starts_with('v') && last.contains('.') => origin,
        _ => graph_url,
    }
}

impl Site {
    pub fn from_env(bot: Arc<Bot>, local: SocketAddr) -> anyhow::Result<Self> {
        let public_url = std::env::var("ECHO_BOT_PUBLIC_URL").unwrap_or_else(|_| format!("http://{local}"));
        let dialog_url = std::env::var("ECHO_BOT_DIALOG_URL").unwrap_or_else(|_| format!("{}/dialog/oauth", origin_of(&bot.graph_url)));
        Ok(Self {
            app_id: env("ECHO_BOT_APP_ID")?,
            public_url: public_url.trim_end_matches('/').to_string(),
            dialog_url,
            bot,
            states: Arc::default(),
        })
    }

    pub fn routes(self) -> Router {
        Router::new().route("/install", get(install)).route("/installed", get(installed)).with_state(self)
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/webhook", self.public_url)
    }

    pub fn install_url(&self) -> String {
        format!("{}/install", self.public_url)
    }

    fn redirect_uri(&self) -> String {
        format!("{}/installed", self.public_url)
    }

    /// The app's webhook, with the app token (the platform calls the bot back to
    /// verify it).
    pub async fn subscribe_webhook(&self) -> anyhow::Result<()> {
        let body = json!({
            "object": "page",
            "callback_url": self.webhook_url(),
            "verify_token": self.bot.verify_token,
            "fields": FIELDS,
            "access_token": format!("{}|{}", self.app_id, self.bot.app_secret),
        });
        let answer = self.graph(reqwest::Method::POST, &format!("{}/subscriptions", self.app_id), None, Some(body)).await?;
        anyhow::ensure!(answer["success"] == json!(true), "subscribing the webhook: {answer}");
        Ok(())
    }

    async fn graph(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self.bot.http.request(method, format!("{}/{path}", self.bot.graph_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{path}: HTTP {status}: {answer}");
        Ok(answer)
    }

    /// The code for a user token, the Pages it was granted, and each Page subscribed.
    async fn finish(&self, code: &str) -> anyhow::Result<Vec<String>> {
        let mut exchange = reqwest::Url::parse(&format!("{}/oauth/access_token", self.bot.graph_url))?;
        exchange
            .query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("client_secret", &self.bot.app_secret)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("code", code);
        let response = self.bot.http.get(exchange).send().await?;
        let status = response.status();
        let token: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "exchanging the code: HTTP {status}: {token}");
        let user_token = token["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no access_token in {token}"))?;
        let accounts = self.graph(reqwest::Method::GET, "me/accounts", Some(user_token), None).await?;
        let mut installed = Vec::new();
        for page in accounts["data"].as_array().into_iter().flatten() {
            let (Some(id), Some(page_token)) = (page["id"].as_str(), page["access_token"].as_str()) else { continue };
            self.graph(reqwest::Method::POST, &format!("{id}/subscribed_apps"), Some(page_token), Some(json!({"subscribed_fields": FIELDS}))).await?;
            self.bot.page_tokens.lock().expect("tokens").insert(id.to_string(), page_token.to_string());
            self.bot.set_profile(Some(id)).await;
            installed.push(page["name"].as_str().unwrap_or(id).to_string());
        }
        Ok(installed)
    }
}

/// `GET /install`: to the login dialog, with a fresh `state`.
async fn install(State(site): State<Site>) -> Response {
    let state = random_state();
    site.states.lock().expect("states").insert(state.clone());
    let Ok(mut dialog) = reqwest::Url::parse(&site.dialog_url) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "ECHO_BOT_DIALOG_URL is not a URL").into_response();
    };
    dialog
        .query_pairs_mut()
        .append_pair("client_id", &site.app_id)
        .append_pair("redirect_uri", &site.redirect_uri())
        .append_pair("scope", SCOPE)
        .append_pair("response_type", "code")
        .append_pair("state", &state);
    (StatusCode::FOUND, [(header::LOCATION, dialog.to_string())]).into_response()
}

fn page(title: &str, text: &str) -> Html<String> {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    Html(format!("<!doctype html><meta charset=\"utf-8\"><title>{0}</title><h1 id=\"result\">{0}</h1><p id=\"detail\">{1}</p>", escape(title), escape(text)))
}

/// `GET /installed?code&state` (or `?error=access_denied&...`): back from the dialog.
async fn installed(State(site): State<Site>, Query(query): Query<HashMap<String, String>>) -> (StatusCode, Html<String>) {
    let known = query.get("state").is_some_and(|state| site.states.lock().expect("states").remove(state));
    if !known {
        return (StatusCode::BAD_REQUEST, page("Not installed", "This answer was not asked for by this site."));
    }
    if let Some(error) = query.get("error") {
        return (StatusCode::OK, page("Not installed", &format!("The login dialog answered {error}.")));
    }
    let Some(code) = query.get("code") else { return (StatusCode::BAD_REQUEST, page("Not installed", "No code.")) };
    match site.finish(code).await {
        Ok(pages) if pages.is_empty() => (StatusCode::OK, page("Installed", "No Page was chosen.")),
        Ok(pages) => (StatusCode::OK, page("Installed", &format!("Installed on {}.", pages.join(", ")))),
        Err(error) => {
            tracing::warn!(%error, "installing failed");
            (StatusCode::BAD_GATEWAY, page("Not installed", &error.to_string()))
        }
    }
}
