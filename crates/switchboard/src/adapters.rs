//! The ports of the use cases, implemented for a running node: the webhook
//! handshake and attachment downloads over real HTTP (under the delivery crate's
//! outbound rules), and what the dispatcher asks of the platform. The one place
//! where the app and the delivery engine meet.

use async_trait::async_trait;
use std::time::Duration;
use switchboard_app::{CallbackPoster, CallbackVerifier, Deliveries, FetchError, Fetched, MediaFetcher, WebhookRoute};
use switchboard_delivery::outbound::{sentence, was_refused, Refused};
use switchboard_delivery::{DeliveryHost, Endpoint, OutboundRules, Route};
use switchboard_domain::AppId;
use switchboard_store::{Alert, StoreError};

/// What the dispatcher asks of the platform, answered by its deliveries service.
pub struct PlatformHost(pub Deliveries);

#[async_trait]
impl DeliveryHost for PlatformHost {
    async fn route(&self, app: &AppId) -> Result<Route, StoreError> {
        match self.0.webhook_route(app).await {
            Ok(WebhookRoute::Post { url, secret }) => Ok(Route::Post(Endpoint { url, secret })),
            Ok(WebhookRoute::Held) => Ok(Route::Held),
            Ok(WebhookRoute::Missing) => Ok(Route::Missing),
            Err(switchboard_app::AppError::Store(error)) => Err(error),
            Err(other) => Err(StoreError::internal(format!("the webhook of app {app}: {other}"))),
        }
    }

    async fn held_apps(&self) -> Vec<AppId> {
        match self.0.held_apps().await {
            Ok(held) => held.to_vec(),
            Err(error) => {
                // Their events are claimed, then let go once `route` answers.
                tracing::warn!(%error, "cannot tell which apps take their events themselves");
                Vec::new()
            }
        }
    }

    async fn alert_raised(&self, alert: &Alert) {
        self.0.alert_raised(alert).await
    }
}

/// Downloads attachments that the Send API and the Attachment Upload API name by
/// URL: under the same outbound rules as webhooks, without following redirects (each
/// hop would need checking), within a size and a time bound.
pub struct HttpFetcher {
    client: reqwest::Client,
    rules: OutboundRules,
}

impl HttpFetcher {
    pub fn new(rules: OutboundRules) -> Self {
        let client = rules
            .client(reqwest::Client::builder())
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Switchboard-Media/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend is compiled in");
        Self { client, rules }
    }

    async fn download(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        self.rules.check_url(url).map_err(|refused| FetchError::Failed(sentence(&refused)))?;
        let mut response = self.client.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                FetchError::TimedOut
            } else if was_refused(&e) {
                FetchError::Failed(sentence(&Refused::NotPublic))
            } else {
                // The same words whatever failed (refused, reset, unresolvable), so that
                // fetches cannot tell what listens where.
                FetchError::Failed("The server could not be reached.".into())
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Failed(format!("The server answered HTTP {}.", status.as_u16())));
        }
        if response.content_length().is_some_and(|length| length > max_bytes) {
            return Err(FetchError::TooLarge);
        }
        let mime = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| if e.is_timeout() { FetchError::TimedOut } else { FetchError::Failed("The download broke off.".into()) })? {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(FetchError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched { bytes, mime })
    }
}

#[async_trait]
impl MediaFetcher for HttpFetcher {
    async fn fetch(&self, url: &str, max_bytes: u64, timeout: Duration) -> Result<Fetched, FetchError> {
        tokio::time::timeout(timeout, self.download(url, max_bytes)).await.unwrap_or(Err(FetchError::TimedOut))
    }
}

/// The verification handshake, over real HTTP (reference §3.2).
pub struct HttpVerifier {
    client: reqwest::Client,
    rules: OutboundRules,
}

impl HttpVerifier {
    pub fn new(client: reqwest::Client, rules: OutboundRules) -> Self {
        Self { client, rules }
    }
}

/// How much of a wrong answer to quote back in the error.
const EXCERPT: usize = 100;

#[async_trait]
impl CallbackVerifier for HttpVerifier {
    async fn verify(&self, url: &str, verify_token: &str, challenge: &str) -> Result<(), String> {
        self.rules.check_url(url).map_err(|refused| format!("callback URL: {refused}"))?;
        let response = self
            .client
            .get(url)
            .query(&[("hub.mode", "subscribe"), ("hub.verify_token", verify_token), ("hub.challenge", challenge)])
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "the callback did not answer within 10 s".to_string()
                } else if was_refused(&e) {
                    format!("callback URL: {}", Refused::NotPublic)
                } else {
                    format!("cannot reach the callback URL ({e})")
                }
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("the callback answered HTTP {}", status.as_u16()));
        }
        if body.trim() != challenge {
            let excerpt: String = body.chars().take(EXCERPT).collect();
            return Err(format!("the response did not match the challenge (expected \"{challenge}\", got \"{excerpt}\")"));
        }
        Ok(())
    }
}

/// Privacy callbacks (data deletion requests, deauthorizations), POSTed as forms
/// under the outbound rules of webhooks, without following redirects.
pub struct HttpCallbackPoster {
    client: reqwest::Client,
    rules: OutboundRules,
}

impl HttpCallbackPoster {
    pub fn new(client: reqwest::Client, rules: OutboundRules) -> Self {
        Self { client, rules }
    }
}

#[async_trait]
impl CallbackPoster for HttpCallbackPoster {
    async fn post_form(&self, url: &str, form: &[(&str, &str)], timeout: Duration, max_bytes: usize) -> Result<(u16, Vec<u8>), String> {
        self.rules.check_url(url).map_err(|refused| format!("callback URL: {refused}"))?;
        let exchange = async {
            let mut response = self.client.post(url).form(form).send().await.map_err(|e| {
                if was_refused(&e) {
                    format!("callback URL: {}", Refused::NotPublic)
                } else {
                    format!("cannot reach the callback URL ({e})")
                }
            })?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|_| "the answer broke off".to_string())? {
                let room = max_bytes.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    break;
                }
            }
            Ok((status, body))
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| Err(format!("the callback did not answer within {} s", timeout.as_secs())))
    }
}
