//! Events an app picks up itself instead of receiving POSTs (a Switchboard
//! extension), for a bot on a machine with no public address:
//! - **listeners** (`switchboard listen`): a streaming connection per listener; each
//!   claims the app's due thread runs as a dispatcher does (leases, per-thread
//!   order) and hands them out rendered and signed, exactly the body and signatures
//!   the callback would get; the listener answers each with its bot's status, which
//!   settles the events or fails them onto the retry schedule like a failed POST;
//! - **the pull API** (`GET /{app-id}/updates`, Telegram's `getUpdates`): one poller
//!   at a time; asking with an offset acknowledges what was handed out below it.
//!
//! Everything lives in the store (leases, acknowledgments, who holds an app), so a
//! listener or poller on one node takes events written on another, and an answer
//! may reach any node. While an app has a listener, is in pull mode, or has a
//! webhook without a callback URL, no dispatcher POSTs its events (`held_apps`).

use crate::core::Core;
use crate::{Actor, AppResult, Caller, Invalidation};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::credentials::random_urlsafe;
use switchboard_domain::fields::parse_fields;
use switchboard_domain::retry::RetrySchedule;
use switchboard_domain::signature::{sign, Signatures};
use switchboard_domain::*;
use switchboard_store::{pack_runs, ClaimLimits, FailedAttempt, OutboxEvent, Pickup, PickupKind, PullRequest};
use switchboard_wire::webhook::{render_envelope, EnvelopeEntry};
use tokio::sync::Notify;

/// How listeners and pollers take events: the same rules as the dispatcher's.
#[derive(Debug, Clone)]
pub struct PickupSettings {
    pub schedule: RetrySchedule,
    /// How long handed-out events stay reserved for their listener or poller.
    pub lease_ms: Millis,
    /// Events in one delivery at most (one `entry` each).
    pub batch_cap: u32,
    /// Deliveries a listener may hold unanswered.
    pub window: usize,
}

impl Default for PickupSettings {
    fn default() -> Self {
        Self { schedule: RetrySchedule::default(), lease_ms: 60_000, batch_cap: 50, window: 8 }
    }
}

/// How long a listener or poller stays registered without a sign of life: a node
/// that dies leaves its apps held no longer than this.
const PICKUP_TTL_MS: Millis = 30_000;
/// How often a listener renews its registration.
const RENEW_EVERY_MS: Millis = 10_000;
/// How often a waiting listener or long poll looks at the store even when this node
/// committed nothing (events written on another node, retries coming due).
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// The longest long poll, in seconds (Telegram allows 50).
pub const MAX_POLL_SECS: u64 = 50;
/// Listeners one app may have connected at once: each holds a stream and looks at
/// the store a few times a second.
pub const MAX_LISTENERS: usize = 16;
/// The most updates one poll answers.
pub const MAX_POLL_LIMIT: u32 = 100;
/// Fields an app gets when a listener opens it without any webhook.
const DEFAULT_FIELDS: &[WebhookField] = &[
    WebhookField::Messages,
    WebhookField::MessagingPostbacks,
    WebhookField::MessageDeliveries,
    WebhookField::MessageReads,
    WebhookField::MessageEchoes,
    WebhookField::MessagingReferrals,
];

/// The listeners and the pull API.
#[derive(Clone)]
pub struct Pickups {
    pub(crate) core: Arc<Core>,
    /// This node's listeners, by id: where an answer that lands here frees a window
    /// slot at once.
    pub(crate) listeners: Arc<Mutex<HashMap<String, Arc<Answers>>>>,
}

/// Answers that reached this node for one listener: the first event id of each
/// delivery answered.
#[derive(Default)]
pub(crate) struct Answers {
    answered: Mutex<Vec<i64>>,
    notify: Notify,
}

/// One delivery to a listener: what its bot is POSTed, byte for byte.
#[derive(Debug, Clone)]
pub struct ListenerDelivery {
    pub events: Vec<DeliveredEvent>,
    /// Events of the same threads the listener does not want: settled unsent with
    /// the delivery's answer (the answer names them too).
    pub skipped: Vec<i64>,
    pub body: Vec<u8>,
    pub signatures: Signatures,
}

#[derive(Debug, Clone)]
pub struct DeliveredEvent {
    pub id: i64,
    pub field: WebhookField,
    pub page: PageId,
}

/// What the listener's bot answered to one delivery.
#[derive(Debug, Clone)]
pub struct ListenerAnswer {
    pub listener: String,
    pub events: Vec<i64>,
    /// The bot's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why there was no answer (`timeout`, `connect`, other words), when none came.
    pub error: Option<String>,
    pub latency_ms: Millis,
    /// Where the listener forwards to, for the attempt log.
    pub forward_to: String,
    /// The start of the bot's answer, for the attempt log.
    pub excerpt: String,
}

/// One update of the pull API: an event in the envelope its webhook would carry.
#[derive(Debug, Clone)]
pub struct Update {
    pub id: i64,
    pub field: WebhookField,
    pub envelope: Vec<u8>,
}

/// What the console shows of an app's delivery.
#[derive(Debug, Clone)]
pub struct DeliveryState {
    pub subscription: Option<AppSubscription>,
    pub pickups: Vec<Pickup>,
}

/// The bytes of one POST (or delivery, or update) for these events of one app.
pub fn envelope_of(events: &[OutboxEvent]) -> Vec<u8> {
    render_envelope(events.iter().map(|e| EnvelopeEntry {
        page_id: e.page.as_str(),
        time_ms: e.created_at,
        event: &e.body,
        standby: e.field == WebhookField::Standby,
    }))
}

impl Pickups {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core, listeners: Arc::default() }
    }

    fn settings(&self) -> &PickupSettings {
        &self.core.settings.pickup
    }

    /// The app's `object=page` webhook, created without a callback URL when it has
    /// none (its events then wait for a listener or a poller).
    async fn webhook_of(&self, app: &App, mode: Option<DeliveryMode>, fields: Option<&[String]>) -> AppResult<AppSubscription> {
        let existing = self.core.store.app_subscriptions(&app.id).await?.into_iter().find(|s| s.object == "page");
        let fields = match fields {
            Some(fields) if !fields.is_empty() => Some(parse_fields(fields, "fields")?),
            _ => None,
        };
        let mut subscription = existing.clone().unwrap_or_else(|| AppSubscription {
            app: app.id.clone(),
            object: "page".into(),
            callback_url: String::new(),
            verify_token: String::new(),
            fields: DEFAULT_FIELDS.to_vec(),
            version: "v21.0".into(),
            active: true,
            delivery: DeliveryMode::Webhook,
        });
        if let Some(fields) = fields {
            subscription.fields = fields;
        }
        if let Some(mode) = mode {
            subscription.delivery = mode;
        }
        if existing.as_ref() != Some(&subscription) {
            self.core.store.put_app_subscription(subscription.clone()).await?;
            self.core.invalidate(Invalidation::Targets(None)).await;
        }
        Ok(subscription)
    }

    /// The app's delivery mode, its webhook and who takes its events now (for its
    /// administrators and developers).
    pub async fn delivery(&self, actor: Actor, app_id: &AppId) -> AppResult<DeliveryState> {
        let app = self.core.app_for_developer(actor, app_id).await?;
        let subscription = self.core.store.app_subscriptions(&app.id).await?.into_iter().find(|s| s.object == "page");
        let pickups = self.core.store.pickups(&app.id, self.core.now()).await?;
        Ok(DeliveryState { subscription, pickups })
    }

    /// Sets how the app's events reach it; an app without a webhook gets one without
    /// a callback URL, with `fields` (or the usual messaging fields).
    pub async fn set_delivery(&self, actor: Actor, app_id: &AppId, mode: Option<&str>, fields: Option<&[String]>) -> AppResult<DeliveryState> {
        let app = self.core.app_for_developer(actor, app_id).await?;
        let mode = mode.and_then(DeliveryMode::parse).ok_or_else(|| Refusal::invalid_param("mode must be webhook or pull"))?;
        if fields.is_some_and(|fields| fields.len() > 64) {
            return Err(Refusal::invalid_param("fields lists at most 64 fields").into());
        }
        if mode == DeliveryMode::Pull {
            let listening = self.core.store.pickups(&app.id, self.core.now()).await?.iter().filter(|p| p.kind == PickupKind::Listener).count();
            if listening > 0 {
                // Both would take the same events.
                return Err(Refusal::invalid_param(format!("{listening} listener(s) of this app are connected: stop them before switching to pull")).into());
            }
        }
        self.webhook_of(&app, Some(mode), fields).await?;
        self.core.invalidate(Invalidation::Held).await;
        // Events that waited for a pull (or for a callback) may go now.
        self.core.store.make_due(&app.id, self.core.now()).await?;
        self.core.wake_dispatcher();
        self.delivery(actor, app_id).await
    }

    /// Opens a listener for the app of the caller's app token. `fields` narrows what
    /// it is sent; the events of other fields are settled unsent (the developer asked
    /// not to see them).
    pub async fn listen(&self, caller: &Caller, app_id: &str, fields: Option<&[String]>) -> AppResult<Listener> {
        let app = self.core.own_app(caller, app_id)?.clone();
        let only = match fields {
            Some(fields) if !fields.is_empty() => Some(parse_fields(fields, "fields")?),
            _ => None,
        };
        let webhook = self.webhook_of(&app, None, None).await?;
        if webhook.delivery == DeliveryMode::Pull {
            return Err(Refusal::invalid_param("This app's events are read with the pull API (its delivery mode is pull): a listener would get none").into());
        }
        let now = self.core.now();
        let listening = self.core.store.pickups(&app.id, now).await?.iter().filter(|p| p.kind == PickupKind::Listener).count();
        if listening >= MAX_LISTENERS {
            return Err(Refusal::invalid_param(format!("This app has {MAX_LISTENERS} listeners connected already; close one first")).into());
        }
        let pickup = Pickup { id: random_urlsafe(16), app: app.id.clone(), kind: PickupKind::Listener, since: now, expires_at: now + PICKUP_TTL_MS };
        self.core.store.hold_pickup(&pickup, now).await?;
        self.core.invalidate(Invalidation::Held).await;
        // What waited for a callback (or backed off failing one) goes to the listener now.
        self.core.store.make_due(&app.id, now).await?;
        let answers = Arc::new(Answers::default());
        self.listeners.lock().expect("the listener map is never poisoned").insert(pickup.id.clone(), answers.clone());
        tracing::info!(app = %app.id, listener = %pickup.id, "a listener connected");
        Ok(Listener {
            pickups: self.clone(),
            secret: self.core.app_secret(&app),
            app: app.id,
            id: pickup.id,
            since: now,
            only,
            in_flight: HashMap::new(),
            answers,
            changed: self.core.outbox_changed.subscribe(),
            renewed_at: now,
        })
    }

    /// A listener's answer for one delivery: a 2xx settles its events; anything
    /// else is a failed attempt (logged with the listener's forwarding address) and
    /// the events follow the retry schedule.
    pub async fn answer(&self, caller: &Caller, app_id: &str, answer: ListenerAnswer) -> AppResult<()> {
        let app = self.core.own_app(caller, app_id)?.clone();
        // A delivery's events and those riding with it fit one claim's batch.
        if answer.events.is_empty() || answer.events.len() > self.settings().batch_cap.max(1) as usize {
            return Err(Refusal::invalid_param(format!("events must name between 1 and {} events", self.settings().batch_cap.max(1))).into());
        }
        if answer.forward_to.len() > 2048 || answer.excerpt.len() > 4096 || answer.error.as_ref().is_some_and(|e| e.len() > 1024) {
            return Err(Refusal::invalid_param("forward_to, excerpt or error is too long").into());
        }
        let now = self.core.now();
        if answer.status.is_some_and(|status| (200..300).contains(&status)) {
            self.core.store.acknowledge(&app.id, &answer.events, now).await?;
        } else {
            self.fail(&app.id, &answer, now).await?;
        }
        let local = self.listeners.lock().expect("the listener map is never poisoned").get(&answer.listener).cloned();
        if let Some(answers) = local {
            answers.answered.lock().expect("the answers are never poisoned").push(answer.events[0]);
            answers.notify.notify_one();
        }
        self.core.wake_dispatcher();
        Ok(())
    }

    async fn fail(&self, app: &AppId, answer: &ListenerAnswer, now: Millis) -> AppResult<()> {
        let (kind, error) = match (answer.status, answer.error.as_deref()) {
            (Some(status), _) => (FailureKind::HttpStatus, format!("HTTP {status} (through a listener)")),
            (None, Some("timeout")) => (FailureKind::Timeout, "no answer from the listener's bot in time".to_string()),
            (None, Some(error)) if error.starts_with("connect") => (FailureKind::Connect, format!("the listener cannot reach its bot: {error}")),
            (None, error) => (FailureKind::Other, format!("the listener's bot failed: {}", error.unwrap_or("no answer"))),
        };
        let mut retries = Vec::with_capacity(answer.events.len());
        for id in &answer.events {
            // Each event's own age and failures decide its next attempt.
            if let Some((event, _)) = self.core.store.event_history(app, *id).await? {
                let next = self.settings().schedule.next_attempt(event.created_at, now, event.failures + 1, rand::random::<f64>(), None);
                retries.push((*id, next));
            }
        }
        let attempt = FailedAttempt {
            app: app.clone(),
            url: format!("listener → {}", answer.forward_to),
            attempted_at: now,
            latency_ms: answer.latency_ms.max(0),
            kind,
            status: answer.status,
            error,
            excerpt: answer.excerpt.clone(),
            retries,
            longest_silence: self.settings().schedule.longest_silence(self.settings().lease_ms),
        };
        tracing::warn!(%app, url = %attempt.url, error = %attempt.error, "a listener's bot refused a delivery");
        Ok(self.core.store.outbox_failed(attempt).await?)
    }

    /// `GET /{app-id}/updates`: acknowledges what was handed out below `offset`, then
    /// answers the app's first pending events (waiting up to `timeout` for one).
    pub async fn updates(&self, caller: &Caller, app_id: &str, offset: Option<i64>, limit: u32, timeout: Duration) -> AppResult<Vec<Update>> {
        let app = self.core.own_app(caller, app_id)?.clone();
        let pulled = self.core.store.app_subscriptions(&app.id).await?.into_iter().any(|s| s.object == "page" && s.delivery == DeliveryMode::Pull);
        if !pulled {
            return Err(Refusal::not_pulled().into());
        }
        let timeout = timeout.min(Duration::from_secs(MAX_POLL_SECS));
        let now = self.core.now();
        let poller = Pickup {
            id: random_urlsafe(16),
            app: app.id.clone(),
            kind: PickupKind::Poller,
            since: now,
            expires_at: now + timeout.as_millis() as Millis + PICKUP_TTL_MS,
        };
        if !self.core.store.hold_pickup(&poller, now).await? {
            return Err(Refusal::poller_busy().into());
        }
        let pulled = self.pull_until(&app.id, offset, limit.clamp(1, MAX_POLL_LIMIT), timeout).await;
        if let Err(error) = self.core.store.drop_pickup(&poller.id).await {
            tracing::warn!(%error, app = %app.id, "cannot release the poller; it expires by itself");
        }
        pulled
    }

    async fn pull_until(&self, app: &AppId, offset: Option<i64>, limit: u32, timeout: Duration) -> AppResult<Vec<Update>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changed = self.core.outbox_changed.subscribe();
        let mut ack_below = offset;
        loop {
            let now = self.core.now();
            let request = PullRequest {
                app: app.clone(),
                ack_below: ack_below.take(),
                now,
                lease_until: now + self.settings().lease_ms,
                give_up_before: now - self.settings().schedule.give_up_after_ms,
                limit,
            };
            let events = self.core.store.pull(&request).await?;
            if !events.is_empty() || tokio::time::Instant::now() >= deadline {
                let updates = events.iter().map(|e| Update { id: e.id, field: e.field, envelope: envelope_of(std::slice::from_ref(e)) }).collect();
                return Ok(updates);
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// One listener's connection, as long as the value lives: dropping it (the
/// connection closed) lets go of its unanswered events and of its hold on the app.
pub struct Listener {
    pickups: Pickups,
    app: AppId,
    secret: String,
    id: String,
    since: Millis,
    only: Option<Vec<WebhookField>>,
    /// Unanswered deliveries by their first event id: the events and their lease.
    in_flight: HashMap<i64, (Vec<i64>, Millis)>,
    answers: Arc<Answers>,
    changed: tokio::sync::watch::Receiver<u64>,
    renewed_at: Millis,
}

impl Listener {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn app(&self) -> &AppId {
        &self.app
    }

    /// The next deliveries, as soon as any is due (within the window of unanswered
    /// ones). Each is one thread run or several, whole, in order.
    pub async fn next(&mut self) -> AppResult<Vec<ListenerDelivery>> {
        loop {
            let now = self.pickups.core.now();
            self.renew(now).await?;
            for answered in std::mem::take(&mut *self.answers.answered.lock().expect("the answers are never poisoned")) {
                self.in_flight.remove(&answered);
            }
            // An answer that went to another node is seen here only as a lease that ran out.
            self.in_flight.retain(|_, (_, lease_until)| *lease_until > now);
            let settings = self.pickups.settings().clone();
            let room = settings.window.saturating_sub(self.in_flight.len());
            if room > 0 {
                let deliveries = self.claim(now, room as u32 * settings.batch_cap.max(1), settings.batch_cap.max(1), settings.lease_ms).await?;
                if !deliveries.is_empty() {
                    return Ok(deliveries);
                }
            }
            tokio::select! {
                _ = self.changed.changed() => {}
                _ = self.answers.notify.notified() => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
    }

    async fn renew(&mut self, now: Millis) -> AppResult<()> {
        if now - self.renewed_at < RENEW_EVERY_MS {
            return Ok(());
        }
        let store = &self.pickups.core.store;
        // Switched to pull meanwhile (from a stale look): the poller's now.
        let pulled = store.app_subscriptions(&self.app).await?.iter().any(|s| s.object == "page" && s.delivery == DeliveryMode::Pull);
        if pulled {
            return Err(Refusal::invalid_param("This app's events are read with the pull API now: the listener is closed").into());
        }
        let pickup = Pickup { id: self.id.clone(), app: self.app.clone(), kind: PickupKind::Listener, since: self.since, expires_at: now + PICKUP_TTL_MS };
        store.hold_pickup(&pickup, now).await?;
        self.renewed_at = now;
        Ok(())
    }

    async fn claim(&mut self, now: Millis, events: u32, run: u32, lease_ms: Millis) -> AppResult<Vec<ListenerDelivery>> {
        let core = &self.pickups.core;
        let lease_until = now + lease_ms;
        let claimed = core.store.claim_outbox(now, lease_until, &ClaimLimits::of_app(self.app.clone(), events, run)).await?;
        let wanted = |e: &OutboxEvent| self.only.as_ref().is_none_or(|only| only.contains(&e.field));
        let mut settle_now = Vec::new();
        let mut deliveries = Vec::new();
        for batch in pack_runs(claimed, run as usize) {
            // An event the listener does not want is settled unsent; while its thread
            // has a wanted one in flight, only with that one's answer (settling it
            // first could leave the thread's next head unleased).
            let sent_threads: Vec<(PageId, PersonId)> = batch.iter().filter(|e| wanted(e)).map(|e| (e.page.clone(), e.person)).collect();
            let (sent, unsent): (Vec<OutboxEvent>, Vec<OutboxEvent>) = batch.into_iter().partition(|e| wanted(e));
            let (riding, alone): (Vec<OutboxEvent>, Vec<OutboxEvent>) = unsent.into_iter().partition(|e| sent_threads.contains(&(e.page.clone(), e.person)));
            settle_now.extend(alone.iter().map(|e| e.id));
            if sent.is_empty() {
                continue;
            }
            let body = envelope_of(&sent);
            let signatures = sign(&self.secret, &body);
            let skipped: Vec<i64> = riding.iter().map(|e| e.id).collect();
            let ids: Vec<i64> = sent.iter().map(|e| e.id).chain(skipped.iter().copied()).collect();
            self.in_flight.insert(ids[0], (ids, lease_until));
            let events = sent.into_iter().map(|e| DeliveredEvent { id: e.id, field: e.field, page: e.page }).collect();
            deliveries.push(ListenerDelivery { events, skipped, body, signatures });
        }
        if !settle_now.is_empty() {
            core.store.acknowledge(&self.app, &settle_now, now).await?;
        }
        Ok(deliveries)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let pickups = self.pickups.clone();
        let (id, app) = (self.id.clone(), self.app.clone());
        let unanswered: Vec<(Vec<i64>, Millis)> = self.in_flight.drain().map(|(_, held)| held).collect();
        pickups.listeners.lock().expect("the listener map is never poisoned").remove(&id);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let store = &pickups.core.store;
            for (ids, lease_until) in unanswered {
                if let Err(error) = store.release_leases(&ids, lease_until).await {
                    tracing::warn!(%error, "cannot release a listener's events; their lease runs out by itself");
                }
            }
            if let Err(error) = store.drop_pickup(&id).await {
                tracing::warn!(%error, "cannot drop a listener; it expires by itself");
            }
            pickups.core.invalidate(Invalidation::Held).await;
            pickups.core.wake_dispatcher();
            tracing::info!(%app, listener = %id, "a listener went away");
        });
    }
}
