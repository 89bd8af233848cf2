//! The console's webhook pages for an app's administrators and developers: the
//! endpoint's health, recent errors, events and their attempts, alerts, replay.
//! Times are epoch milliseconds, as in webhook events.

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path, Query};
use crate::session::Signed;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use switchboard_app::Platform;
use switchboard_domain::{AppId, Millis, Refusal};
use switchboard_store::{Alert, AttemptRecord, EndpointHealth, EventRecord, EventState, ReplaySelection};

/// Under `/console/v1/apps/{app}`.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/apps/{app}/webhook", get(health))
        .route("/apps/{app}/webhook/errors", get(recent_errors))
        .route("/apps/{app}/webhook/events", get(events))
        .route("/apps/{app}/webhook/events/{event}", get(event))
        .route("/apps/{app}/webhook/events/{event}/replay", post(replay_one))
        .route("/apps/{app}/webhook/replay", post(replay_range))
        .route("/apps/{app}/webhook/alerts", get(alerts))
}

pub fn attempt_json(attempt: &AttemptRecord) -> Value {
    json!({
        "id": attempt.id,
        "time": attempt.attempted_at,
        "url": attempt.url,
        "kind": attempt.kind,
        "status": attempt.status,
        "error": attempt.error,
        "latency_ms": attempt.latency_ms,
        "response_excerpt": attempt.excerpt,
        "events": attempt.events,
    })
}

pub fn event_json(event: &EventRecord) -> Value {
    json!({
        "id": event.id,
        "page_id": event.page.as_str(),
        "field": event.field.as_str(),
        "created_at": event.created_at,
        "state": event.state.as_str(),
        "failures": event.failures,
        "next_attempt_at": (event.state == EventState::Pending).then_some(event.next_attempt_at),
        "settled_at": event.settled_at,
        "last_error": event.last_error,
        "replayed_at": event.replayed_at,
    })
}

pub fn health_json(url: Option<&str>, health: &EndpointHealth, now: Millis) -> Value {
    json!({
        "callback_url": url,
        "pending": health.pending,
        "oldest_pending_age_ms": health.oldest_pending_at.map(|at| (now - at).max(0)),
        "dead": health.dead,
        "failing_since": health.failing_since,
        "last_error_at": health.last_error_at,
        "last_error": health.last_error,
        "last_success_at": health.last_success_at,
        "disabled_at": health.disabled_at,
    })
}

pub fn alert_json(alert: &Alert) -> Value {
    json!({
        "id": alert.id,
        "kind": alert.kind.as_str(),
        "created_at": alert.created_at,
        "message": alert.message,
        "pages": alert.pages.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    })
}

/// A non-negative integer query parameter, or its default.
fn number(query: &HashMap<String, String>, name: &str, default: i64) -> Result<i64, Refusal> {
    match query.get(name) {
        None => Ok(default),
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| Refusal::invalid_param(format!("{name} must be a non-negative integer"))),
    }
}

/// `GET /console/v1/apps/{app}/webhook`: pending count, oldest pending age, dead
/// letters, the failing spell, last error and last success.
async fn health(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Value>> {
    let (url, health) = platform.webhook_health(actor, &AppId(app)).await?;
    Ok(Json(health_json(url.as_deref(), &health, platform.now())))
}

/// `GET /console/v1/apps/{app}/webhook/errors?limit=`: the latest failed attempts.
async fn recent_errors(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Value>> {
    let limit = number(&query, "limit", 50)? as u32;
    let attempts = platform.recent_failures(actor, &AppId(app), limit).await?;
    Ok(Json(json!({"data": attempts.iter().map(attempt_json).collect::<Vec<_>>()})))
}

/// `GET /console/v1/apps/{app}/webhook/events?state=pending|delivered|dead&from=&to=&limit=`.
async fn events(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Value>> {
    let state = match query.get("state").map(String::as_str) {
        None => None,
        Some("pending") => Some(EventState::Pending),
        Some("delivered") => Some(EventState::Delivered),
        Some("dead") => Some(EventState::Dead),
        Some(_) => return Err(Refusal::invalid_param("state must be pending, delivered or dead").into()),
    };
    let (from, to) = (number(&query, "from", 0)?, number(&query, "to", i64::MAX)?);
    let limit = number(&query, "limit", 100)? as u32;
    let events = platform.webhook_events(actor, &AppId(app), state, from, to, limit).await?;
    Ok(Json(json!({"data": events.iter().map(event_json).collect::<Vec<_>>()})))
}

fn event_id(text: &str) -> Result<i64, Refusal> {
    text.parse().map_err(|_| Refusal::unknown_object(text))
}

/// `GET /console/v1/apps/{app}/webhook/events/{event}`: the event and its failed attempts.
async fn event(State(platform): State<Platform>, Signed(actor): Signed, Path((app, event)): Path<(String, String)>) -> HttpResult<Json<Value>> {
    let (record, attempts) = platform.event_history(actor, &AppId(app), event_id(&event)?).await?;
    let mut body = event_json(&record);
    body["attempts"] = attempts.iter().map(attempt_json).collect();
    Ok(Json(body))
}

/// `POST /console/v1/apps/{app}/webhook/events/{event}/replay`: send it again (same bytes).
async fn replay_one(State(platform): State<Platform>, Signed(actor): Signed, Path((app, event)): Path<(String, String)>) -> HttpResult<Json<Value>> {
    let id = event_id(&event)?;
    let queued = platform.replay(actor, &AppId(app), ReplaySelection::One(id)).await?;
    if queued.is_empty() {
        return Err(Refusal::unknown_object(&event).into());
    }
    Ok(Json(json!({"queued": queued})))
}

#[derive(Deserialize)]
struct ReplayRange {
    from: Millis,
    to: Millis,
}

/// `POST /console/v1/apps/{app}/webhook/replay` `{"from","to"}`: every dead event created then.
async fn replay_range(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    JsonBody(range): JsonBody<ReplayRange>,
) -> HttpResult<Json<Value>> {
    let queued = platform.replay(actor, &AppId(app), ReplaySelection::DeadBetween { from: range.from, to: range.to }).await?;
    Ok(Json(json!({"queued": queued})))
}

/// `GET /console/v1/apps/{app}/webhook/alerts?limit=`: newest first.
async fn alerts(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Value>> {
    let limit = number(&query, "limit", 50)? as u32;
    let alerts = platform.webhook_alerts(actor, &AppId(app), limit).await?;
    Ok(Json(json!({"data": alerts.iter().map(alert_json).collect::<Vec<_>>()})))
}
