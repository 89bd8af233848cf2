//! What developers see of their webhook deliveries and what they can do about them:
//! recent errors, an event's attempt history, the endpoint's health, alerts, and
//! replay. Also what follows an alert (caches of the Pages it unsubscribed from).

use crate::{Actor, AppResult, Invalidation, Platform};
use switchboard_domain::*;
use switchboard_store::{Alert, AlertKind, AttemptRecord, EndpointHealth, EventRecord, EventState, ReplaySelection};

/// The most rows one listing answers.
pub const LIST_CAP: u32 = 500;

impl Platform {
    /// The app, if the actor may look after its webhooks: an administrator or a
    /// developer of it, or the operator.
    pub async fn app_for_developer(&self, actor: Actor, app_id: &AppId) -> AppResult<App> {
        let app = self.inner.store.app(app_id).await?.ok_or_else(|| Refusal::unknown_object(app_id.as_str()))?;
        if let Actor::Person(person) = actor {
            if !matches!(self.inner.store.app_role(app_id, person).await?, Some(AppRole::Administrator | AppRole::Developer)) {
                return Err(Refusal::permission("Only an administrator or a developer of the app can do this").into());
            }
        }
        Ok(app)
    }

    pub async fn recent_failures(&self, actor: Actor, app_id: &AppId, limit: u32) -> AppResult<Vec<AttemptRecord>> {
        self.app_for_developer(actor, app_id).await?;
        Ok(self.inner.store.recent_failures(app_id, limit.clamp(1, LIST_CAP)).await?)
    }

    pub async fn event_history(&self, actor: Actor, app_id: &AppId, event: i64) -> AppResult<(EventRecord, Vec<AttemptRecord>)> {
        self.app_for_developer(actor, app_id).await?;
        self.inner.store.event_history(app_id, event).await?.ok_or_else(|| Refusal::unknown_object(&event.to_string()).into())
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
        self.app_for_developer(actor, app_id).await?;
        Ok(self.inner.store.events_of(app_id, state, from, to, limit.clamp(1, LIST_CAP)).await?)
    }

    /// The endpoint's health, with its callback URL (if the app has a webhook).
    pub async fn webhook_health(&self, actor: Actor, app_id: &AppId) -> AppResult<(Option<String>, EndpointHealth)> {
        self.app_for_developer(actor, app_id).await?;
        let url = self.webhook_endpoint(app_id).await?.map(|(url, _)| url);
        Ok((url, self.inner.store.endpoint_health(app_id).await?))
    }

    pub async fn webhook_alerts(&self, actor: Actor, app_id: &AppId, limit: u32) -> AppResult<Vec<Alert>> {
        self.app_for_developer(actor, app_id).await?;
        Ok(self.inner.store.alerts(app_id, limit.clamp(1, LIST_CAP)).await?)
    }

    /// Sends events again (same bytes), due now; answers the ids queued.
    pub async fn replay(&self, actor: Actor, app_id: &AppId, selection: ReplaySelection) -> AppResult<Vec<i64>> {
        self.app_for_developer(actor, app_id).await?;
        if let ReplaySelection::DeadBetween { from, to } = selection {
            if from > to {
                return Err(Refusal::invalid_param("`from` must not be after `to`").into());
            }
        }
        let queued = self.inner.store.replay(app_id, selection, self.now()).await?;
        if !queued.is_empty() {
            self.outbox_wake().notify_one();
        }
        Ok(queued)
    }

    /// What the platform does when the delivery engine raises an alert: log it for
    /// the operator, and forget the webhook targets of Pages the app left.
    pub async fn alert_raised(&self, alert: &Alert) {
        tracing::warn!(app = %alert.app, kind = alert.kind.as_str(), message = %alert.message, "webhook alert");
        if alert.kind == AlertKind::Disabled {
            for page in &alert.pages {
                self.invalidate(Invalidation::Targets(Some(page.clone()))).await;
            }
        }
    }
}
