//! Downloads attachments that the Send API and the Attachment Upload API name by URL:
//! under the same outbound rules as webhooks, without following redirects (each hop
//! would need checking), within a size and a time bound.

use crate::OutboundRules;
use async_trait::async_trait;
use std::time::Duration;
use switchboard_app::{FetchError, Fetched, MediaFetcher};

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
        self.rules.check_url(url).map_err(|refused| FetchError::Failed(crate::outbound::sentence(&refused)))?;
        let mut response = self.client.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                FetchError::TimedOut
            } else if crate::outbound::was_refused(&e) {
                FetchError::Failed(crate::outbound::sentence(&crate::outbound::Refused::NotPublic))
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
