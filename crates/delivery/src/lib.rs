//! The webhook delivery engine: reads the outbox and POSTs events to each app's
//! callback URL, in explicit stages: claim (lease due events from the store),
//! prepare (batch one app's events into one envelope and sign it), send (one POST,
//! 20 s timeout, pooled keep-alive connections), record (delivered, or a failure
//! with its next attempt on the retry schedule).
//!
//! At-least-once: an event is marked delivered only after a 2xx; a node that dies
//! mid-POST leaves a lease that expires, and the event is sent again. Events of one
//! thread go one at a time (the store hands out only a thread's oldest pending one).
//! Must not: decide who receives what (the app layer wrote that into the outbox) or
//! re-render event bytes (a retry sends exactly what was stored).

mod verifier;

pub use verifier::HttpVerifier;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_app::metrics::DeliveryLabels;
use switchboard_app::Platform;
use switchboard_domain::retry::RetrySchedule;
use switchboard_domain::signature::sign;
use switchboard_domain::*;
use switchboard_store::OutboxEvent;
use switchboard_wire::webhook::{render_envelope, EnvelopeEntry};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Events in one POST at most (one `entry` each).
    pub batch_cap: usize,
    /// Webhook POSTs in flight at once from this node.
    pub max_in_flight: usize,
    /// A POST without an answer by then has failed (Meta: 20 s).
    pub timeout: Duration,
    /// How long a claimed event is reserved for this node: longer than `timeout`,
    /// so that only a dead node's events are taken over.
    pub lease: Duration,
    pub schedule: RetrySchedule,
    /// Accept self-signed certificates on https callbacks (local development).
    pub accept_invalid_certs: bool,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            batch_cap: 50,
            max_in_flight: 64,
            timeout: Duration::from_secs(20),
            lease: Duration::from_secs(60),
            schedule: RetrySchedule::default(),
            accept_invalid_certs: false,
        }
    }
}

/// The HTTP client used for webhook POSTs and handshakes: pooled keep-alive.
pub fn webhook_client(settings: &DeliverySettings) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(32)
        .danger_accept_invalid_certs(settings.accept_invalid_certs)
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend is compiled in")
}

pub struct Dispatcher {
    platform: Platform,
    client: reqwest::Client,
    settings: DeliverySettings,
}

/// One POST: an app's batch of events, signed.
struct Batch {
    app: AppId,
    url: String,
    body: Vec<u8>,
    signatures: signature::Signatures,
    events: Vec<OutboxEvent>,
}

enum Outcome {
    Delivered,
    Failed { error: String, retry_after_ms: Option<Millis> },
}

impl Dispatcher {
    pub fn new(platform: Platform, settings: DeliverySettings) -> Self {
        Self { client: webhook_client(&settings), platform, settings }
    }

    /// Delivers until `shutdown`, then waits for the POSTs in flight.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.settings.max_in_flight));
        let wake = this.platform.outbox_wake();
        let mut in_flight = JoinSet::new();
        loop {
            while in_flight.try_join_next().is_some() {}
            let claimed = match this.claim(slots.available_permits()).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim webhook events; retrying");
                    Vec::new()
                }
            };
            let busy = !claimed.is_empty();
            for batch in this.prepare(claimed).await {
                let Ok(slot) = slots.clone().acquire_owned().await else { break };
                let this = this.clone();
                in_flight.spawn(async move {
                    let started = Instant::now();
                    let outcome = this.send(&batch).await;
                    this.record(&batch, outcome, started.elapsed()).await;
                    drop(slot);
                    // The threads of this batch may have their next event ready.
                    this.platform.outbox_wake().notify_one();
                });
            }
            if busy && slots.available_permits() > 0 {
                continue;
            }
            let pause = this.pause().await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!(in_flight = in_flight.len(), "dispatcher stopping; waiting for POSTs in flight");
        while in_flight.join_next().await.is_some() {}
    }

    /// How long to sleep when idle: until the next event is due, at most a second
    /// (events written by other processes wake nobody here).
    async fn pause(&self) -> Duration {
        let idle = Duration::from_secs(1);
        match self.platform.store().outbox_next_due().await {
            Ok(Some(due)) => Duration::from_millis((due - self.platform.now()).clamp(1, idle.as_millis() as i64) as u64),
            _ => idle,
        }
    }

    /// Stage 1: lease due events, as many as there are free POST slots can carry.
    async fn claim(&self, free_slots: usize) -> Result<Vec<OutboxEvent>, switchboard_store::StoreError> {
        if free_slots == 0 {
            return Ok(Vec::new());
        }
        let now = self.platform.now();
        let limit = (free_slots * self.settings.batch_cap).min(2_000) as u32;
        self.platform.store().claim_outbox(now, now + self.settings.lease.as_millis() as Millis, limit).await
    }

    /// Stage 2: group by app, render one envelope per batch and sign it.
    async fn prepare(&self, events: Vec<OutboxEvent>) -> Vec<Batch> {
        let mut by_app: BTreeMap<AppId, Vec<OutboxEvent>> = BTreeMap::new();
        for event in events {
            by_app.entry(event.app.clone()).or_default().push(event);
        }
        let mut batches = Vec::new();
        for (app, events) in by_app {
            let endpoint = match self.platform.webhook_endpoint(&app).await {
                Ok(endpoint) => endpoint,
                Err(error) => {
                    tracing::warn!(%app, ?error, "cannot look up the app's webhook");
                    None
                }
            };
            let Some((url, secret)) = endpoint else {
                let now = self.platform.now();
                for event in &events {
                    self.reschedule(event, now, "the app has no active webhook for object=page", None).await;
                }
                continue;
            };
            let mut events = events.into_iter().peekable();
            while events.peek().is_some() {
                let chunk: Vec<OutboxEvent> = events.by_ref().take(self.settings.batch_cap).collect();
                let body = render_envelope(chunk.iter().map(|e| EnvelopeEntry { page_id: e.page.as_str(), time_ms: e.created_at, event: &e.body }));
                let signatures = sign(&secret, &body);
                batches.push(Batch { app: app.clone(), url: url.clone(), body, signatures, events: chunk });
            }
        }
        batches
    }

    /// Stage 3: one POST. Success is a 2xx within the timeout.
    async fn send(&self, batch: &Batch) -> Outcome {
        let response = self
            .client
            .post(&batch.url)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature", &batch.signatures.sha1)
            .header("X-Hub-Signature-256", &batch.signatures.sha256)
            .body(batch.body.clone())
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => Outcome::Delivered,
            Ok(response) => {
                let retry_after_ms = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map(|seconds| seconds * 1000);
                Outcome::Failed { error: format!("HTTP {}", response.status().as_u16()), retry_after_ms }
            }
            Err(error) if error.is_timeout() => {
                Outcome::Failed { error: format!("timeout after {} s", self.settings.timeout.as_secs()), retry_after_ms: None }
            }
            Err(error) if error.is_connect() => Outcome::Failed { error: "connection refused or unreachable".into(), retry_after_ms: None },
            Err(error) => Outcome::Failed { error: format!("request failed: {error}"), retry_after_ms: None },
        }
    }

    /// Stage 4: store the outcome of every event in the batch.
    async fn record(&self, batch: &Batch, outcome: Outcome, latency: Duration) {
        let metrics = self.platform.metrics();
        metrics.webhook_latency.observe(latency.as_secs_f64());
        let now = self.platform.now();
        match outcome {
            Outcome::Delivered => {
                metrics.webhook_posts.get_or_create(&DeliveryLabels { outcome: "delivered" }).inc();
                metrics.webhook_events_delivered.inc_by(batch.events.len() as u64);
                let ids: Vec<i64> = batch.events.iter().map(|e| e.id).collect();
                if let Err(error) = self.platform.store().outbox_delivered(&ids, now).await {
                    // The lease expires and the events go again: at-least-once.
                    tracing::error!(%error, app = %batch.app, "cannot record a delivery");
                }
            }
            Outcome::Failed { error, retry_after_ms } => {
                metrics.webhook_posts.get_or_create(&DeliveryLabels { outcome: "failed" }).inc();
                tracing::warn!(app = %batch.app, url = %batch.url, %error, events = batch.events.len(), "webhook delivery failed");
                for event in &batch.events {
                    self.reschedule(event, now, &error, retry_after_ms).await;
                }
            }
        }
    }

    async fn reschedule(&self, event: &OutboxEvent, now: Millis, error: &str, retry_after_ms: Option<Millis>) {
        let delay = self.settings.schedule.delay_after(event.failures + 1, rand::random::<f64>(), retry_after_ms);
        if let Err(store_error) = self.platform.store().outbox_failed(event.id, now, now + delay, error).await {
            tracing::error!(%store_error, "cannot record a failed delivery");
        }
    }
}
