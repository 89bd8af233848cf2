//! What developers see of their webhook deliveries and what they can do about them:
//! recent errors, an event's attempt history, the endpoint's health, alerts, and
//! replay. Also what follows an alert (caches of the Pages it unsubscribed from).

use crate::core::Core;
use crate::{Actor, AppResult, Invalidation};
use std::sync::Arc;
use switchboard_domain::*;
use switchboard_store::{Alert, AlertKind, DeliveryBucket, AttemptRecord, EndpointHealth, EventRecord, EventState, ReplaySelection};

/// The longest statistics window, and the fewest milliseconds per bucket.
pub const STATS_MAX_WINDOW_MS: Millis = 7 * 24 * 3_600_000;
pub const STATS_MIN_BUCKET_MS: Millis = 1_000;

/// The most rows one listing answers.
pub const LIST_CAP: u32 = 500;

/// Where the dispatcher sends an app's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRoute {
    Post { url: String, secret: String },
    /// The app takes its events itself (a listener, the pull API), or they wait for
    /// a listener: a claim of them is let go.
    Held,
    /// No active webhook at all.
    Missing,
}

/// Webhook deliveries as developers see and handle them, and what the dispatcher
/// asks of the platform (where an app's events go; what follows an alert).
#[derive(Clone)]
pub struct Deliveries {
    pub(crate) core: Arc<Core>,
}

impl Deliveries {
    pub async fn recent_failures(&self, actor: Actor, app_id: &AppId, limit: u32) -> AppResult<Vec<AttemptRecord>> {
        self.core.app_for_developer(actor, app_id).await?;
        Ok(self.core.store.recent_failures(app_id, limit.clamp(1, LIST_CAP)).await?)
    }

    pub async fn event_history(&self, actor: Actor, app_id: &AppId, event: i64) -> AppResult<(EventRecord, Vec<AttemptRecord>)> {
        self.core.app_for_developer(actor, app_id).await?;
        self.core.store.event_history(app_id, event).await?.ok_or_else(|| Refusal::unknown_object(&event.to_string()).into())
    }

    pub async fn webhook_events(
        &self,
        actor: Actor,
        app_id: &AppId,
        state: Option<EventState>,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> AppResult<Vec<EventRecord>> {
        self.core.app_for_developer(actor, app_id).await?;
        Ok(self.core.store.events_of(app_id, state, from, to, limit.clamp(1, LIST_CAP)).await?)
    }

    /// The endpoint's health, with its callback URL (if the app has a webhook).
    pub async fn webhook_health(&self, actor: Actor, app_id: &AppId) -> AppResult<(Option<String>, EndpointHealth)> {
        self.core.app_for_developer(actor, app_id).await?;
        let url = self.webhook_endpoint(app_id).await?.map(|(url, _)| url);
        Ok((url, self.core.store.endpoint_health(app_id).await?))
    }

    pub async fn webhook_alerts(&self, actor: Actor, app_id: &AppId, limit: u32) -> AppResult<Vec<Alert>> {
        self.core.app_for_developer(actor, app_id).await?;
        Ok(self.core.store.alerts(app_id, limit.clamp(1, LIST_CAP)).await?)
    }

    /// Sends events again (same bytes), due now; answers the ids queued.
    pub async fn replay(&self, actor: Actor, app_id: &AppId, selection: ReplaySelection) -> AppResult<Vec<i64>> {
        self.core.app_for_developer(actor, app_id).await?;
        if let ReplaySelection::DeadBetween { from, to } = selection {
            if from > to {
                return Err(Refusal::invalid_param("`from` must not be after `to`").into());
            }
        }
        let queued = self.core.store.replay(app_id, selection, self.core.now()).await?;
        if !queued.is_empty() {
            self.core.wake_dispatcher();
        }
        Ok(queued)
    }

    /// What the platform does when the delivery engine raises an alert: log it for
    /// the operator, and forget the webhook targets of Pages the app left.
    pub async fn alert_raised(&self, alert: &Alert) {
        tracing::warn!(app = %alert.app, kind = alert.kind.as_str(), message = %alert.message, "webhook alert");
        if alert.kind == AlertKind::Disabled {
            for page in &alert.pages {
                self.core.invalidate(Invalidation::Targets(Some(page.clone()))).await;
            }
        }
    }

    /// Where the dispatcher sends the app's events: its callback URL with the secret
    /// that signs it, or nowhere while the app takes them itself (see `Pickups`).
    pub async fn webhook_route(&self, app_id: &AppId) -> AppResult<WebhookRoute> {
        if self.held_apps().await?.contains(app_id) {
            return Ok(WebhookRoute::Held);
        }
        Ok(match self.webhook_endpoint(app_id).await? {
            Some((url, secret)) => WebhookRoute::Post { url, secret },
            None => WebhookRoute::Missing,
        })
    }

    /// The apps whose events no dispatcher POSTs now: in pull mode, with a webhook
    /// but no callback URL, or with a listener (on any node); cached briefly.
    pub async fn held_apps(&self) -> AppResult<Arc<Vec<AppId>>> {
        let held = self
            .core
            .held
            .get_or_load(&(), || {
                let core = self.core.clone();
                async move { Ok::<_, crate::AppError>(Some(Arc::new(core.store.held_apps(core.now()).await?))) }
            })
            .await?;
        Ok(held.unwrap_or_default())
    }

    /// Where the app's `object=page` webhook goes, and the secret that signs it.
    pub async fn webhook_endpoint(&self, app_id: &AppId) -> AppResult<Option<(String, String)>> {
        let Some(app) = self.core.app(app_id).await? else { return Ok(None) };
        let webhook = self.core.store.app_subscriptions(app_id).await?.into_iter().find(|s| s.object == "page" && s.active && s.is_pushed());
        Ok(webhook.map(|s| (s.callback_url, self.core.app_secret(&app))))
    }

    /// The app's deliveries in `[from, to)` by buckets, every bucket present (for its
    /// administrators and developers).
    pub async fn delivery_stats(&self, actor: Actor, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> AppResult<Vec<DeliveryBucket>> {
        self.core.app_for_developer(actor, app).await?;
        if to <= from || to - from > STATS_MAX_WINDOW_MS {
            return Err(Refusal::invalid_param("from must be before to, at most 7 days before").into());
        }
        if bucket_ms < STATS_MIN_BUCKET_MS || (to - from) / bucket_ms > 10_080 {
            return Err(Refusal::invalid_param("bucket_ms must be at least 1000 and give at most 10080 buckets").into());
        }
        let stored = self.core.store.delivery_stats(app, from, to, bucket_ms).await?;
        let mut stored = stored.into_iter().peekable();
        let mut buckets = Vec::new();
        let mut start = from;
        while start < to {
            match stored.peek() {
                Some(bucket) if bucket.start == start => buckets.extend(stored.next()),
                _ => buckets.push(DeliveryBucket { start, ..DeliveryBucket::default() }),
            }
            start += bucket_ms;
        }
        Ok(buckets)
    }
}
