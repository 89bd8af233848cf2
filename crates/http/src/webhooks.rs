//! The console's webhook pages for an app's administrators and developers: the
//! endpoint's health, recent errors, events and their attempts, alerts, replay;
//! and the app's Graph calls this node refused. Times are epoch milliseconds, as in
//! webhook events.

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path, Query};
use crate::session::Signed;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::HashMap;
use switchboard_app::views::*;
use switchboard_app::Platform;
use switchboard_domain::{AppId, Millis, Refusal};
use switchboard_store::{EventState, ReplaySelection};

/// Under `/console/v1/apps/{app}`.
pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/apps/{app}/webhook", get(health))
        .route("/apps/{app}/webhook/errors", get(recent_errors))
        .route("/apps/{app}/api-errors", get(api_errors))
        .route("/apps/{app}/webhook/events", get(events))
        .route("/apps/{app}/webhook/events/{event}", get(event))
        .route("/apps/{app}/webhook/events/{event}/replay", post(replay_one))
        .route("/apps/{app}/webhook/replay", post(replay_range))
        .route("/apps/{app}/webhook/alerts", get(alerts))
        .route("/apps/{app}/webhook/delivery", get(delivery).put(set_delivery))
}

fn number(query: &HashMap<String, String>, name: &str, default: i64) -> Result<i64, Refusal> {
    match query.get(name) {
        None => Ok(default),
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| Refusal::invalid_param(format!("{name} must be a non-negative integer"))),
    }
}

/// `GET /console/v1/apps/{app}/webhook`: pending count, oldest pending age, dead
/// letters, the failing spell, last error and last success.
async fn health(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<HealthView>> {
    let (url, health) = platform.deliveries.webhook_health(actor, &AppId(app)).await?;
    Ok(Json(HealthView::at(url, health, platform.now())))
}

/// `GET /console/v1/apps/{app}/webhook/errors?limit=`: the latest failed attempts.
async fn recent_errors(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Listing<AttemptView>>> {
    let limit = number(&query, "limit", 50)? as u32;
    let attempts = platform.deliveries.recent_failures(actor, &AppId(app), limit).await?;
    Ok(Json(Listing { data: attempts.iter().map(AttemptView::from).collect() }))
}

/// `GET /console/v1/apps/{app}/api-errors?since=&limit=`: the app's Graph calls this
/// node refused, newest first (only those with an id above `since`), at most 50.
async fn api_errors(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Listing<RefusedCallView>>> {
    let since = query.contains_key("since").then(|| number(&query, "since", 0)).transpose()?.map(|since| since as u64);
    let limit = number(&query, "limit", switchboard_app::MAX_CALLS_PER_APP as i64)? as usize;
    let calls = platform.refused_calls.list(actor, &AppId(app), since, limit).await?;
    Ok(Json(Listing { data: calls.iter().map(RefusedCallView::from).collect() }))
}

/// `GET /console/v1/apps/{app}/webhook/events?state=pending|delivered|dead&from=&to=&limit=`.
async fn events(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Listing<EventView>>> {
    let state = match query.get("state").map(String::as_str) {
        None => None,
        Some("pending") => Some(EventState::Pending),
        Some("delivered") => Some(EventState::Delivered),
        Some("dead") => Some(EventState::Dead),
        Some(_) => return Err(Refusal::invalid_param("state must be pending, delivered or dead").into()),
    };
    let (from, to) = (number(&query, "from", 0)?, number(&query, "to", i64::MAX)?);
    let limit = number(&query, "limit", 100)? as u32;
    let events = platform.deliveries.webhook_events(actor, &AppId(app), state, from, to, limit).await?;
    Ok(Json(Listing { data: events.iter().map(EventView::from).collect() }))
}

fn event_id(text: &str) -> Result<i64, Refusal> {
    text.parse().map_err(|_| Refusal::unknown_object(text))
}

/// `GET /console/v1/apps/{app}/webhook/events/{event}`: the event and its failed attempts.
async fn event(State(platform): State<Platform>, Signed(actor): Signed, Path((app, event)): Path<(String, String)>) -> HttpResult<Json<EventView>> {
    Ok(Json(platform.deliveries.event_history(actor, &AppId(app), event_id(&event)?).await?.into()))
}

/// `POST /console/v1/apps/{app}/webhook/events/{event}/replay`: send it again (same bytes).
async fn replay_one(State(platform): State<Platform>, Signed(actor): Signed, Path((app, event)): Path<(String, String)>) -> HttpResult<Json<QueuedView>> {
    let id = event_id(&event)?;
    let queued = platform.deliveries.replay(actor, &AppId(app), ReplaySelection::One(id)).await?;
    if queued.is_empty() {
        return Err(Refusal::unknown_object(&event).into());
    }
    Ok(Json(QueuedView { queued }))
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
) -> HttpResult<Json<QueuedView>> {
    let queued = platform.deliveries.replay(actor, &AppId(app), ReplaySelection::DeadBetween { from: range.from, to: range.to }).await?;
    Ok(Json(QueuedView { queued }))
}

/// `GET /console/v1/apps/{app}/webhook/alerts?limit=`: newest first.
async fn alerts(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResult<Json<Listing<AlertView>>> {
    let limit = number(&query, "limit", 50)? as u32;
    let alerts = platform.deliveries.webhook_alerts(actor, &AppId(app), limit).await?;
    Ok(Json(Listing { data: alerts.iter().map(AlertView::from).collect() }))
}

/// `GET /console/v1/apps/{app}/webhook/delivery`: the delivery mode, the webhook's
/// callback and fields, the listeners connected and the poller polling.
async fn delivery(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<DeliveryView>> {
    let state = platform.pickups.delivery(actor, &AppId(app)).await?;
    Ok(Json(DeliveryView::from(&state)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryChange {
    mode: Option<String>,
    fields: Option<Vec<String>>,
}

/// `PUT /console/v1/apps/{app}/webhook/delivery` `{"mode": "webhook"|"pull", "fields"?}`:
/// an app without a webhook gets one without a callback URL.
async fn set_delivery(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    JsonBody(change): JsonBody<DeliveryChange>,
) -> HttpResult<Json<DeliveryView>> {
    // Who asks is checked before what they ask: the service reads the mode.
    let state = platform.pickups.set_delivery(actor, &AppId(app), change.mode.as_deref(), change.fields.as_deref()).await?;
    Ok(Json(DeliveryView::from(&state)))
}
