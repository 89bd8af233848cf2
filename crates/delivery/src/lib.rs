//! The webhook delivery engine: reads the outbox and POSTs events to each app's
//! callback URL, in explicit stages: claim (lease due events from the store),
//! prepare (batch one app's events into one envelope and sign it), send (one POST,
//! 20 s timeout, pooled keep-alive connections), record (delivered, or a failure
//! with its next attempt on the retry schedule).
//!
//! At-least-once: an event is marked delivered only after a 2xx; a node that dies
//! mid-POST leaves a lease that expires, and the event is sent again. A thread's
//! events go in order: the store hands out a thread's oldest pending event with the
//! due ones after it (its run, up to a batch), one POST carries the run whole as
//! consecutive entries, and the thread's next run is leased only once that POST is
//! settled. A claim takes no more than each endpoint's free POST slots can send.
//! Prolonged failure is escalated as Meta does (an alert, then the app unsubscribed
//! from the Pages), but undelivered events are kept as dead letters for replay.
//! Every timer reads the platform's clock. A clock that jumps back leaves no event
//! waiting for it to catch up: due times and leases further ahead than any this
//! node would write are brought back every second (a node whose clock ran ahead
//! writes them too).
//!
//! It depends on the store's outbox ([`OutboxStore`]) and on a narrow [`DeliveryHost`]
//! for what it needs from the rest of the platform (where an app's events go, what
//! follows an alert), never on the use cases themselves.
//! Must not: decide who receives what (the app layer wrote that into the outbox) or
//! re-render event bytes (a retry sends exactly what was stored).

mod metrics;
pub mod outbound;

pub use metrics::{DeliveryLabels, DeliveryMetrics, FailureLabels};
pub use outbound::OutboundRules;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use switchboard_domain::retry::RetrySchedule;
use switchboard_domain::signature::sign;
use switchboard_domain::*;
use switchboard_store::{pack_runs, Alert, ClaimLimits, FailedAttempt, NextRuns, OutboxEvent, OutboxStore, StoreError};
use switchboard_wire::alert::AlertNotice;
use switchboard_wire::webhook::{render_envelope, EnvelopeEntry};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Events in one POST at most (one `entry` each), and of one thread's run.
    pub batch_cap: usize,
    /// Webhook POSTs in flight at once from this node.
    pub max_in_flight: usize,
    /// Webhook POSTs in flight at once to one callback URL, from this node.
    pub max_in_flight_per_endpoint: usize,
    /// A POST still unanswered after this has stalled: it gives its slot among
    /// `max_in_flight` back for one of `max_stalled`, and its endpoint's next POSTs
    /// take stalled slots only, until one is answered in time; so that receivers
    /// that hang cannot take every slot and slow the apps whose receivers answer.
    pub stalled_after: Duration,
    /// Stalled POSTs in flight at once from this node, beyond `max_in_flight`.
    pub max_stalled: usize,
    /// A POST without an answer by then has failed (Meta: 20 s).
    pub timeout: Duration,
    /// How long a claimed event is reserved for this node: longer than `timeout`,
    /// so that only a dead node's events are taken over.
    pub lease: Duration,
    pub schedule: RetrySchedule,
    /// Accept self-signed certificates on https callbacks (local development).
    pub accept_invalid_certs: bool,
    /// Continuous failure before the app's developers are alerted (Meta: 15 min).
    pub alert_after: Duration,
    /// Continuous failure before the app is unsubscribed (Meta: 1 hour).
    pub disable_after: Duration,
    /// Where alerts are also POSTed as JSON, if anywhere.
    pub alert_url: Option<String>,
    /// How long delivered events stay in the outbox (for history and replay).
    pub keep_delivered: Duration,
    /// How long dead events and failed attempts are kept.
    pub keep_dead: Duration,
    /// How often this node prunes the outbox.
    pub prune_every: Duration,
    pub outbound: OutboundRules,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            batch_cap: 50,
            max_in_flight: 64,
            max_in_flight_per_endpoint: 8,
            stalled_after: Duration::from_secs(1),
            max_stalled: 256,
            timeout: Duration::from_secs(20),
            lease: Duration::from_secs(60),
            schedule: RetrySchedule::default(),
            accept_invalid_certs: false,
            alert_after: Duration::from_secs(15 * 60),
            disable_after: Duration::from_secs(60 * 60),
            alert_url: None,
            keep_delivered: Duration::from_secs(24 * 3600),
            keep_dead: Duration::from_secs(14 * 24 * 3600),
            prune_every: Duration::from_secs(60),
            outbound: OutboundRules { allow_private: false },
        }
    }
}

/// POSTs one task makes to an endpoint, following its batch's threads, before it
/// gives the slot back.
const CHAIN_ROUNDS: usize = 32;
/// The longest sleep of an idle dispatcher, and its pace while claims fail.
const IDLE: Duration = Duration::from_secs(1);
/// How often failing claims are logged at most.
const CLAIM_FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);
/// Bytes of a failed answer's body kept in the attempt log.
const EXCERPT_BYTES: usize = 1024;
/// Bytes of a successful answer's body read (to keep the connection) before giving up on it.
const DRAIN_BYTES: usize = 64 * 1024;
/// How often due times and leases stamped ahead are looked for.
const RECALL_EVERY: Duration = Duration::from_secs(1);

/// The HTTP client used for webhook POSTs and handshakes: pooled keep-alive,
/// redirects are not followed (a webhook must answer itself), and only the
/// addresses the outbound rules allow are connected to.
pub fn webhook_client(settings: &DeliverySettings) -> reqwest::Client {
    settings
        .outbound
        .client(reqwest::Client::builder())
        .timeout(settings.timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(settings.max_in_flight_per_endpoint.max(1) * 2)
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(settings.accept_invalid_certs)
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend is compiled in")
}

/// Where an app's `object=page` webhook goes, and the secret that signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub secret: String,
}

/// Where an app's events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// POSTed to the app's callback URL.
    Post(Endpoint),
    /// The app takes them itself (a listener, the pull API) or they wait for a
    /// listener: a claim of them is let go untouched.
    Held,
    /// The app has no active webhook.
    Missing,
}

/// What the dispatcher needs from the rest of the platform.
#[async_trait::async_trait]
pub trait DeliveryHost: Send + Sync + 'static {
    /// Where the app's events go now.
    async fn route(&self, app: &AppId) -> Result<Route, StoreError>;
    /// The apps whose events this dispatcher leaves alone (`Route::Held`), as far
    /// as a recent look shows.
    async fn held_apps(&self) -> Vec<AppId>;
    /// An alert was stored: the platform reacts (logs it, forgets the webhook targets
    /// of the Pages the app was unsubscribed from).
    async fn alert_raised(&self, alert: &Alert);
}

/// What a dispatcher runs on: the outbox, the host, the clock every timer reads, the
/// wake the use cases ring when they commit events, and its metrics.
pub struct DispatcherParts {
    pub outbox: Arc<dyn OutboxStore>,
    pub host: Arc<dyn DeliveryHost>,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    pub metrics: DeliveryMetrics,
}

pub struct Dispatcher {
    outbox: Arc<dyn OutboxStore>,
    host: Arc<dyn DeliveryHost>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    metrics: DeliveryMetrics,
    client: reqwest::Client,
    settings: DeliverySettings,
    /// POST slots per callback URL.
    endpoints: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Callback URLs whose last POST stalled: their POSTs take stalled slots only.
    stalling: Mutex<HashSet<String>>,
    /// Each app's callback URL when its events were last prepared: whose slots limit
    /// the app's next claim.
    app_urls: Mutex<HashMap<AppId, String>>,
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
    Failed(Failure),
}

struct Failure {
    kind: FailureKind,
    status: Option<u16>,
    error: String,
    excerpt: String,
    retry_after_ms: Option<Millis>,
}

impl Failure {
    fn new(kind: FailureKind, error: impl Into<String>) -> Self {
        Self { kind, status: None, error: error.into(), excerpt: String::new(), retry_after_ms: None }
    }
}

impl Dispatcher {
    pub fn new(parts: DispatcherParts, settings: DeliverySettings) -> Self {
        let DispatcherParts { outbox, host, clock, wake, metrics } = parts;
        let (endpoints, stalling, app_urls) = (Mutex::default(), Mutex::default(), Mutex::default());
        Self { client: webhook_client(&settings), outbox, host, clock, wake, metrics, settings, endpoints, stalling, app_urls }
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Delivers until `shutdown`, then waits for the POSTs in flight.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.settings.max_in_flight));
        let stalled_slots = Arc::new(Semaphore::new(this.settings.max_stalled));
        let wake = this.wake.clone();
        let mut in_flight = JoinSet::new();
        let pruner = tokio::spawn(this.clone().prune_periodically(shutdown.clone()));
        let mut claims_failing = false;
        let mut claims_failure_logged: Option<Instant> = None;
        let mut recalled_at: Option<Instant> = None;
        loop {
            while in_flight.try_join_next().is_some() {}
            if recalled_at.is_none_or(|at| at.elapsed() >= RECALL_EVERY) {
                this.recall_future_times().await;
                recalled_at = Some(Instant::now());
            }
            let held = this.host.held_apps().await;
            let limits = this.claim_limits(slots.available_permits(), stalled_slots.available_permits(), &held);
            let lease_until = this.now() + this.settings.lease.as_millis() as Millis;
            let claimed = match this.claim(&limits, lease_until).await {
                Ok(claimed) => {
                    if std::mem::take(&mut claims_failing) {
                        tracing::debug!("webhook events are claimed again");
                    }
                    claimed
                }
                Err(error) => {
                    // Logged once while it lasts, and once a minute at most while it
                    // comes and goes (a disk at its limit refuses most claims).
                    let first = !std::mem::replace(&mut claims_failing, true);
                    if first && claims_failure_logged.is_none_or(|logged| logged.elapsed() >= CLAIM_FAILURE_LOG_EVERY) {
                        claims_failure_logged = Some(Instant::now());
                        tracing::warn!(error = %switchboard_store::error_chain(&error), "cannot claim webhook events; retrying every second");
                    }
                    Vec::new()
                }
            };
            // A full claim suggests more are due: claim again at once. Otherwise wait
            // for a wake (a new event, an answered POST) or the next due time.
            let more_due = limits.events > 0 && claimed.len() >= limits.events as usize;
            let leased_at = Instant::now();
            for batch in this.prepare(claimed, lease_until).await {
                // An endpoint whose last POST stalled waits in a stalled slot from the
                // start; with none free (apps share them), its batch is let go.
                let mut in_stalled_slot = this.is_stalling(&batch.url);
                let mut slot = if in_stalled_slot {
                    let Ok(slot) = stalled_slots.clone().try_acquire_owned() else {
                        this.let_go(&batch.app, &batch.events, lease_until).await;
                        continue;
                    };
                    slot
                } else {
                    let Ok(slot) = slots.clone().acquire_owned().await else { break };
                    slot
                };
                let endpoint = this.endpoint_slots(&batch.url);
                let (this, stalled_slots) = (this.clone(), stalled_slots.clone());
                in_flight.spawn(async move {
                    let Ok(endpoint_slot) = endpoint.acquire_owned().await else { return };
                    // Claims stay within the endpoints' free slots, but apps that share
                    // a URL share its slots. A batch that waited for its endpoint until
                    // its lease could run out during the POST is left to expire and be
                    // claimed again: sending it now could race the next claim and
                    // deliver it twice.
                    if leased_at.elapsed() + this.settings.timeout >= this.settings.lease {
                        tracing::debug!(events = batch.events.len(), "a lease ran low while waiting for the endpoint; claimed again later");
                        return;
                    }
                    // The batch's threads go on in this task while their next events
                    // are due: each is leased as the previous one is recorded delivered.
                    // A bounded number of rounds, so that other threads get the slot
                    // too; none in a stalled slot, whose endpoint is slow.
                    let mut next = Some(batch);
                    let mut round = 0;
                    while let Some(batch) = next.take() {
                        round += 1;
                        let started = Instant::now();
                        let (outcome, stalled) = this.send_in_slot(&batch, &mut slot, &mut in_stalled_slot, &stalled_slots).await;
                        let go_on = round < CHAIN_ROUNDS && !stalled && !in_stalled_slot;
                        let (following, lease_until) = this.record(&batch, outcome, started.elapsed(), go_on).await;
                        next = this.prepare(following, lease_until).await.into_iter().next();
                    }
                    // Both slots free before the wake: a claim that still saw this
                    // endpoint full would leave its app out and find nothing.
                    drop(endpoint_slot);
                    drop(slot);
                    // Other threads may have become due meanwhile.
                    this.wake.notify_one();
                });
            }
            if more_due && slots.available_permits() > 0 {
                continue;
            }
            // Due events that cannot be claimed are still due: retry at the idle
            // pace, not at once.
            let pause = if claims_failing { IDLE } else { this.pause().await };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!(in_flight = in_flight.len(), "dispatcher stopping; waiting for POSTs in flight");
        while in_flight.join_next().await.is_some() {}
        let _ = pruner.await;
    }

    fn is_stalling(&self, url: &str) -> bool {
        self.stalling.lock().expect("the stalling set is never poisoned").contains(url)
    }

    fn endpoint_slots(&self, url: &str) -> Arc<Semaphore> {
        let mut endpoints = self.endpoints.lock().expect("the endpoint map is never poisoned");
        endpoints.entry(url.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.settings.max_in_flight_per_endpoint.max(1)))).clone()
    }

    /// How long to sleep when idle: until the next event is due, at most a second
    /// (events written by other processes and leases that run out wake nobody here).
    async fn pause(&self) -> Duration {
        match self.outbox.outbox_next_due(self.now()).await {
            Ok(Some(due)) => Duration::from_millis((due - self.now()).clamp(1, IDLE.as_millis() as i64) as u64),
            _ => IDLE,
        }
    }

    /// Brings back the due times and leases stamped further ahead than this node would
    /// stamp them (the longest retry delay, its lease, and the slack between nodes'
    /// clocks): a clock that was ahead wrote them, and they would hold their events
    /// for as long as it was ahead.
    async fn recall_future_times(&self) {
        let now = self.now();
        let latest_due = now + self.settings.schedule.longest_delay() + CLOCK_SLACK_MS;
        let latest_lease = now + self.settings.lease.as_millis() as Millis + CLOCK_SLACK_MS;
        match self.outbox.recall_future_times(now, latest_due, latest_lease).await {
            Ok(0) => {}
            Ok(recalled) => tracing::warn!(recalled, "webhook events due or leased by a clock ahead of this one's were made due now"),
            Err(error) => tracing::warn!(%error, "cannot look for webhook events stamped ahead; looking again"),
        }
    }

    /// Deletes settled events past their keeping time, on the platform's clock.
    async fn prune_periodically(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let now = self.now();
            let delivered_before = now - self.settings.keep_delivered.as_millis() as Millis;
            let dead_before = now - self.settings.keep_dead.as_millis() as Millis;
            match self.outbox.prune_outbox(delivered_before, dead_before).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "pruned settled webhook events"),
                Err(error) => tracing::warn!(%error, "cannot prune the outbox"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.prune_every) => {}
            }
        }
    }

    /// As many events as the free POST slots can carry, and for each app no more than
    /// its endpoint's free slots can (a stalling endpoint's, and the free stalled
    /// slots): a batch claimed beyond them would wait for a slot while its lease runs.
    /// Held apps (they take their events themselves) are left out.
    fn claim_limits(&self, free_slots: usize, free_stalled: usize, held: &[AppId]) -> ClaimLimits {
        let batch = self.settings.batch_cap.max(1);
        let per_endpoint = self.settings.max_in_flight_per_endpoint.max(1);
        let endpoints = self.endpoints.lock().expect("the endpoint map is never poisoned");
        let stalling = self.stalling.lock().expect("the stalling set is never poisoned");
        let app_urls = self.app_urls.lock().expect("the app map is never poisoned");
        let per_app = app_urls
            .iter()
            .filter(|(app, _)| !held.contains(app))
            .filter_map(|(app, url)| {
                let free = endpoints.get(url)?.available_permits();
                let free = if stalling.contains(url) { free.min(free_stalled) } else { free };
                (free < per_endpoint).then(|| (app.clone(), (free * batch) as u32))
            })
            .chain(held.iter().map(|app| (app.clone(), 0)))
            .collect();
        ClaimLimits { events: (free_slots * batch).min(2_000) as u32, run: batch as u32, per_app, per_other_app: (per_endpoint * batch) as u32, only_app: None }
    }

    /// Stage 1: lease due events within `limits`, until `lease_until`.
    async fn claim(&self, limits: &ClaimLimits, lease_until: Millis) -> Result<Vec<OutboxEvent>, StoreError> {
        if limits.events == 0 {
            return Ok(Vec::new());
        }
        self.outbox.claim_outbox(self.now(), lease_until, limits).await
    }

    /// Stage 2: group by app, pack whole thread runs into batches (two POSTs in
    /// flight for one thread could arrive out of order), render one envelope per
    /// batch and sign it. `events` come each run whole and in order.
    /// Events of an app that turned out held are let go (their lease, `lease_until`,
    /// ended) for its listener or poller.
    async fn prepare(&self, events: Vec<OutboxEvent>, lease_until: Millis) -> Vec<Batch> {
        let mut by_app: BTreeMap<AppId, Vec<OutboxEvent>> = BTreeMap::new();
        for event in events {
            by_app.entry(event.app.clone()).or_default().push(event);
        }
        let mut batches = Vec::new();
        for (app, events) in by_app {
            let route = match self.host.route(&app).await {
                Ok(route) => route,
                Err(error) => {
                    tracing::warn!(%app, ?error, "cannot look up the app's webhook");
                    Route::Missing
                }
            };
            let Endpoint { url, secret } = match route {
                Route::Post(endpoint) => endpoint,
                Route::Held => {
                    self.let_go(&app, &events, lease_until).await;
                    continue;
                }
                Route::Missing => {
                    let failure = Failure::new(FailureKind::NoWebhook, "the app has no active webhook for object=page");
                    self.record_failure(&app, "", &events, failure, Duration::ZERO).await;
                    continue;
                }
            };
            {
                let mut app_urls = self.app_urls.lock().expect("the app map is never poisoned");
                if app_urls.get(&app) != Some(&url) {
                    app_urls.insert(app.clone(), url.clone());
                }
            }
            for chunk in pack_runs(events, self.settings.batch_cap) {
                let body = render_envelope(chunk.iter().map(|e| EnvelopeEntry {
                    page_id: e.page.as_str(),
                    time_ms: e.created_at,
                    event: &e.body,
                    standby: e.field == WebhookField::Standby,
                }));
                let signatures = sign(&secret, &body);
                batches.push(Batch { app: app.clone(), url: url.clone(), body, signatures, events: chunk });
            }
        }
        batches
    }

    /// Lets go of claimed events untouched (their lease, `lease_until`, ends), for
    /// a later claim or the app's own pickup.
    async fn let_go(&self, app: &AppId, events: &[OutboxEvent], lease_until: Millis) {
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        if let Err(error) = self.outbox.release_leases(&ids, lease_until).await {
            tracing::warn!(%app, %error, "cannot let go of claimed events; their lease runs out by itself");
        }
    }

    /// Stage 3 within a slot: a POST unanswered after `stalled_after` marks its
    /// endpoint stalling and trades its slot for a stalled one (when one is free),
    /// waking the loop, which can give the slot to an endpoint that answers; an
    /// answer in time clears the mark. So hung receivers hold the stalled slots,
    /// and the others only until their first stall. The POST itself still has its
    /// whole timeout. Answers whether it stalled.
    async fn send_in_slot(
        &self,
        batch: &Batch,
        slot: &mut OwnedSemaphorePermit,
        in_stalled_slot: &mut bool,
        stalled_slots: &Arc<Semaphore>,
    ) -> (Outcome, bool) {
        let send = self.send(batch);
        tokio::pin!(send);
        if let Ok(outcome) = tokio::time::timeout(self.settings.stalled_after, &mut send).await {
            self.stalling.lock().expect("the stalling set is never poisoned").remove(&batch.url);
            return (outcome, false);
        }
        self.stalling.lock().expect("the stalling set is never poisoned").insert(batch.url.clone());
        if !*in_stalled_slot {
            if let Ok(stalled_slot) = stalled_slots.clone().try_acquire_owned() {
                drop(std::mem::replace(slot, stalled_slot));
                *in_stalled_slot = true;
                self.metrics.stalled.inc();
                self.wake.notify_one();
            }
        }
        (send.await, true)
    }

    /// Stage 3: one POST. Success is a 2xx within the timeout.
    async fn send(&self, batch: &Batch) -> Outcome {
        if let Err(refusal) = self.settings.outbound.check_url(&batch.url) {
            return Outcome::Failed(Failure::new(FailureKind::Blocked, refusal.to_string()));
        }
        let response = self
            .client
            .post(&batch.url)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature", &batch.signatures.sha1)
            .header("X-Hub-Signature-256", &batch.signatures.sha256)
            .body(batch.body.clone())
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(error) => return Outcome::Failed(self.transport_failure(&error)),
        };
        let status = response.status();
        if status.is_success() {
            // Reading the answer lets the connection be used again.
            let _ = read_bounded(&mut response, DRAIN_BYTES).await;
            return Outcome::Delivered;
        }
        let retry_after_ms = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after_ms);
        let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let excerpt = String::from_utf8_lossy(&read_bounded(&mut response, EXCERPT_BYTES).await).into_owned();
        let (kind, error) = match location {
            Some(location) if status.is_redirection() => {
                (FailureKind::Redirect, format!("HTTP {}: redirect to {location} (redirects are not followed)", status.as_u16()))
            }
            _ => (FailureKind::HttpStatus, format!("HTTP {}", status.as_u16())),
        };
        Outcome::Failed(Failure { kind, status: Some(status.as_u16()), error, excerpt, retry_after_ms })
    }

    fn transport_failure(&self, error: &reqwest::Error) -> Failure {
        if error.is_timeout() {
            return Failure::new(FailureKind::Timeout, format!("no answer within {} s", self.settings.timeout.as_secs()));
        }
        if outbound::was_refused(error) {
            return Failure::new(FailureKind::Blocked, outbound::Refused::NotPublic.to_string());
        }
        // The whole chain: reqwest's own message is only "error sending request".
        let detail = error_chain(error);
        let lower = detail.to_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") || lower.contains("handshake") {
            Failure::new(FailureKind::Tls, detail)
        } else if error.is_connect() {
            Failure::new(FailureKind::Connect, detail)
        } else if was_cut(error) || lower.contains("connection closed before message completed") {
            Failure::new(FailureKind::Reset, detail)
        } else {
            Failure::new(FailureKind::Other, detail)
        }
    }

    /// Stage 4: store the outcome of every event in the batch. After a delivery,
    /// answers the same threads' next events, leased (at most one batch of them).
    /// The next events come with their lease's end.
    async fn record(&self, batch: &Batch, outcome: Outcome, latency: Duration, go_on: bool) -> (Vec<OutboxEvent>, Millis) {
        let metrics = &self.metrics;
        metrics.latency.observe(latency.as_secs_f64());
        match outcome {
            Outcome::Delivered => {
                let now = self.now();
                metrics.posts.get_or_create(&DeliveryLabels { outcome: "delivered" }).inc();
                metrics.events_delivered.inc_by(batch.events.len() as u64);
                for event in &batch.events {
                    metrics.event_delay.observe((now - event.created_at).max(0) as f64 / 1000.0);
                }
                let ids: Vec<i64> = batch.events.iter().map(|e| e.id).collect();
                let batch_cap = self.settings.batch_cap.max(1) as u32;
                let lease_until = now + self.settings.lease.as_millis() as Millis;
                let next = go_on.then_some(NextRuns { lease_until, events: batch_cap, run: batch_cap });
                match self.outbox.outbox_delivered_then_claim(&ids, now, next).await {
                    Ok(next) => (next, lease_until),
                    Err(error) => {
                        // The lease expires and the events go again: at-least-once.
                        tracing::error!(%error, app = %batch.app, "cannot record a delivery");
                        (Vec::new(), lease_until)
                    }
                }
            }
            Outcome::Failed(failure) => {
                metrics.posts.get_or_create(&DeliveryLabels { outcome: "failed" }).inc();
                self.record_failure(&batch.app, &batch.url, &batch.events, failure, latency).await;
                (Vec::new(), 0)
            }
        }
    }

    /// Logs the attempt, reschedules each event (or gives it up past the retry
    /// horizon), and escalates a failure that has lasted.
    async fn record_failure(&self, app: &AppId, url: &str, events: &[OutboxEvent], failure: Failure, latency: Duration) {
        self.metrics.failures.get_or_create(&FailureLabels { kind: failure.kind.as_str() }).inc();
        tracing::warn!(%app, %url, kind = %failure.kind, error = %failure.error, events = events.len(), "webhook delivery failed");
        let now = self.now();
        let schedule = &self.settings.schedule;
        let longest_silence = schedule.longest_silence(self.settings.lease.as_millis() as Millis);
        let retries = events
            .iter()
            .map(|e| (e.id, schedule.next_attempt(e.created_at, now, e.failures + 1, rand::random::<f64>(), failure.retry_after_ms)))
            .collect();
        let attempt = FailedAttempt {
            app: app.clone(),
            url: url.to_string(),
            attempted_at: now,
            latency_ms: latency.as_millis() as Millis,
            kind: failure.kind,
            status: failure.status,
            error: failure.error,
            excerpt: failure.excerpt,
            retries,
            longest_silence,
        };
        if let Err(error) = self.outbox.outbox_failed(attempt).await {
            tracing::error!(%error, "cannot record a failed delivery");
            return;
        }
        let (alert_after, disable_after) = (self.settings.alert_after.as_millis() as Millis, self.settings.disable_after.as_millis() as Millis);
        match self.outbox.escalate_failure(app, now, alert_after, disable_after, longest_silence).await {
            Ok(Some(alert)) => self.raise(alert).await,
            Ok(None) => {}
            Err(error) => tracing::error!(%error, %app, "cannot escalate a failing webhook"),
        }
    }

    /// An alert is stored already; the platform reacts, and the alert URL hears of it.
    async fn raise(&self, alert: Alert) {
        self.host.alert_raised(&alert).await;
        let Some(alert_url) = self.settings.alert_url.clone() else { return };
        let notice = AlertNotice {
            id: alert.id,
            app_id: alert.app.as_str(),
            kind: alert.kind.as_str(),
            created_at: alert.created_at,
            message: &alert.message,
            pages: alert.pages.iter().map(|p| p.as_str()).collect(),
        };
        let body = serde_json::to_vec(&notice).expect("an alert notice is JSON");
        let client = self.client.clone();
        // Not awaited: a slow alert receiver must not hold a delivery slot.
        tokio::spawn(async move {
            match client.post(&alert_url).header("Content-Type", "application/json").body(body).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(status = response.status().as_u16(), "the alert URL refused an alert"),
                Err(error) => tracing::warn!(%error, "cannot POST an alert to the alert URL"),
            }
        });
    }
}

pub use switchboard_store::error_chain;

/// Whether the connection was reset or cut under the request: an I/O error of
/// that kind somewhere in the chain of causes.
fn was_cut(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind::*;
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                return true;
            }
        }
        cause = error.source();
    }
    false
}

/// Up to `limit` bytes of the body; the rest is left unread.
async fn read_bounded(response: &mut reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            _ => break,
        }
    }
    body
}

/// `Retry-After` as seconds or as an HTTP date, in milliseconds from now.
fn retry_after_ms(value: &str) -> Option<Millis> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        return Some(seconds.max(0) * 1000);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).map(|d| d.as_millis() as Millis).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after_ms("120"), Some(120_000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0), "a date in the past means now");
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(600));
        let ms = retry_after_ms(&later).unwrap();
        assert!((598_000..=600_000).contains(&ms), "{ms}");
        assert_eq!(retry_after_ms("soon"), None);
    }
}
