//! What developers see of their webhook deliveries, in the console and the CLI:
//! failed attempts, events and their state, the endpoint's health, alerts, replays;
//! and the Graph calls of the app this node refused.

use serde::Serialize;
use switchboard_domain::*;
use switchboard_store::{Alert, AttemptRecord, EndpointHealth, EventRecord, EventState};

/// One failed POST.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub id: i64,
    pub time: Millis,
    pub url: String,
    pub kind: FailureKind,
    pub status: Option<u16>,
    pub error: String,
    pub latency_ms: Millis,
    pub response_excerpt: String,
    pub events: u32,
    /// The events the POST carried, in order (those not pruned since).
    pub event_ids: Vec<i64>,
}

impl From<&AttemptRecord> for AttemptView {
    fn from(a: &AttemptRecord) -> Self {
        Self {
            id: a.id,
            time: a.attempted_at,
            url: a.url.clone(),
            kind: a.kind,
            status: a.status,
            error: a.error.clone(),
            latency_ms: a.latency_ms,
            response_excerpt: a.excerpt.clone(),
            events: a.events,
            event_ids: a.event_ids.clone(),
        }
    }
}

/// A Graph call of the app that was refused: the error as the caller received it
/// and the body it sent (without its token).
#[derive(Debug, Clone, Serialize)]
pub struct RefusedCallView {
    pub id: u64,
    pub time: Millis,
    pub method: String,
    pub path: String,
    pub page: Option<String>,
    pub recipient: Option<String>,
    pub status: u16,
    pub error: switchboard_wire::GraphErrorBody,
    pub body: serde_json::Value,
    pub body_truncated: bool,
}

impl From<&crate::RefusedCall> for RefusedCallView {
    fn from(c: &crate::RefusedCall) -> Self {
        Self {
            id: c.id,
            time: c.time,
            method: c.method.clone(),
            path: c.path.clone(),
            page: c.page.clone(),
            recipient: c.recipient.clone(),
            status: c.status,
            error: c.error.clone(),
            body: c.body.clone(),
            body_truncated: c.body_truncated,
        }
    }
}

/// One event and where it stands; with its failed attempts when asked for one.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: i64,
    pub page_id: PageId,
    pub field: &'static str,
    pub created_at: Millis,
    pub state: &'static str,
    pub failures: u32,
    /// While pending.
    pub next_attempt_at: Option<Millis>,
    pub settled_at: Option<Millis>,
    pub last_error: Option<String>,
    pub replayed_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
}

impl From<&EventRecord> for EventView {
    fn from(e: &EventRecord) -> Self {
        Self {
            id: e.id,
            page_id: e.page.clone(),
            field: e.field.as_str(),
            created_at: e.created_at,
            state: e.state.as_str(),
            failures: e.failures,
            next_attempt_at: (e.state == EventState::Pending).then_some(e.next_attempt_at),
            settled_at: e.settled_at,
            last_error: e.last_error.clone(),
            replayed_at: e.replayed_at,
            attempts: None,
        }
    }
}

impl From<(EventRecord, Vec<AttemptRecord>)> for EventView {
    fn from((event, attempts): (EventRecord, Vec<AttemptRecord>)) -> Self {
        Self { attempts: Some(attempts.iter().map(AttemptView::from).collect()), ..Self::from(&event) }
    }
}

/// The app's webhook endpoint at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct HealthView {
    pub callback_url: Option<String>,
    pub pending: u64,
    pub oldest_pending_age_ms: Option<Millis>,
    pub dead: u64,
    pub failing_since: Option<Millis>,
    pub last_error_at: Option<Millis>,
    pub last_error: Option<String>,
    pub last_success_at: Option<Millis>,
    pub disabled_at: Option<Millis>,
}

impl HealthView {
    /// The endpoint's health as it stands at `now` (ages are measured from it).
    pub fn at(url: Option<String>, health: EndpointHealth, now: Millis) -> Self {
        Self {
            callback_url: url,
            pending: health.pending,
            oldest_pending_age_ms: health.oldest_pending_at.map(|at| (now - at).max(0)),
            dead: health.dead,
            failing_since: health.failing_since,
            last_error_at: health.last_error_at,
            last_error: health.last_error,
            last_success_at: health.last_success_at,
            disabled_at: health.disabled_at,
        }
    }
}

/// An alert raised for a failing endpoint, as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub kind: &'static str,
    pub created_at: Millis,
    pub message: String,
    pub pages: Vec<PageId>,
}

impl From<&Alert> for AlertView {
    fn from(alert: &Alert) -> Self {
        Self { id: alert.id, kind: alert.kind.as_str(), created_at: alert.created_at, message: alert.message.clone(), pages: alert.pages.clone() }
    }
}

/// Events queued again by a replay.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedView {
    pub queued: Vec<i64>,
}

/// How an app's events reach it, and who takes them now.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    /// `webhook` (POSTs to the callback, or to a listener while one is connected)
    /// or `pull` (`GET /{app-id}/updates`).
    pub mode: DeliveryMode,
    /// `None`: events wait for a listener (or a poller).
    pub callback_url: Option<String>,
    pub fields: Vec<&'static str>,
    pub listeners: Vec<PickupView>,
    /// The pull API's request in progress, if any.
    pub poller: Option<PickupView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PickupView {
    pub id: String,
    pub since: Millis,
    pub expires_at: Millis,
}

impl From<&crate::DeliveryState> for DeliveryView {
    fn from(state: &crate::DeliveryState) -> Self {
        let subscription = state.subscription.as_ref();
        let view = |p: &switchboard_store::Pickup| PickupView { id: p.id.clone(), since: p.since, expires_at: p.expires_at };
        Self {
            mode: subscription.map_or(DeliveryMode::Webhook, |s| s.delivery),
            callback_url: subscription.map(|s| s.callback_url.clone()).filter(|url| !url.is_empty()),
            fields: subscription.map(|s| s.fields.iter().map(|f| f.as_str()).collect()).unwrap_or_default(),
            listeners: state.pickups.iter().filter(|p| p.kind == switchboard_store::PickupKind::Listener).map(view).collect(),
            poller: state.pickups.iter().find(|p| p.kind == switchboard_store::PickupKind::Poller).map(view),
        }
    }
}
