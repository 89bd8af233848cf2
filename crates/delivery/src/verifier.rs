//! The verification handshake, over real HTTP (reference §3.2).

use crate::OutboundRules;
use async_trait::async_trait;
use switchboard_app::CallbackVerifier;

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
                } else if crate::outbound::was_refused(&e) {
                    format!("callback URL: {}", crate::outbound::Refused::NotPublic)
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
