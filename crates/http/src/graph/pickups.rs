//! Events an app picks up itself (Switchboard extensions, app token): the pull API
//! (`GET /{app-id}/updates`) and the listener's stream (`GET /{app-id}/listen`,
//! server-sent events) with its answers (`POST /{app-id}/listen`).

use super::{success, GraphCall};
use crate::error::HttpResult;
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use std::convert::Infallible;
use std::time::Duration;
use switchboard_app::{ListenerAnswer, Platform, MAX_POLL_LIMIT};
use switchboard_domain::Refusal;
use switchboard_wire::webhook::render_updates;

/// How often an idle stream says it is alive: a listener that went away is noticed
/// (and its unanswered events let go) at the next write.
const KEEP_ALIVE: Duration = Duration::from_secs(2);

fn int_param(request: &GraphCall, name: &str) -> Result<Option<i64>, Refusal> {
    request.params.str(name)?.map(|text| text.trim().parse::<i64>().map_err(|_| Refusal::invalid_param(format!("Param {name} must be an integer")))).transpose()
}

/// `GET /{app-id}/updates?offset=&limit=&timeout=`: the app's pending events, each
/// in the envelope its webhook would carry, with an increasing `update_id`; asking
/// with `offset` acknowledges those handed out below it.
pub async fn updates(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let offset = int_param(request, "offset")?;
    let limit = int_param(request, "limit")?.unwrap_or(i64::from(MAX_POLL_LIMIT));
    if !(1..=i64::from(MAX_POLL_LIMIT)).contains(&limit) {
        return Err(Refusal::invalid_param(format!("Param limit must be between 1 and {MAX_POLL_LIMIT}")).into());
    }
    let timeout = int_param(request, "timeout")?.unwrap_or(0);
    if !(0..=switchboard_app::MAX_POLL_SECS as i64).contains(&timeout) {
        return Err(Refusal::invalid_param(format!("Param timeout must be between 0 and {} seconds", switchboard_app::MAX_POLL_SECS)).into());
    }
    let updates = platform.pickups.updates(caller, app, offset, limit as u32, Duration::from_secs(timeout as u64)).await?;
    let next_offset = updates.iter().map(|u| u.id + 1).max().or(offset).unwrap_or(0);
    let body = render_updates(updates.iter().map(|u| (u.id, u.field.as_str(), u.envelope.as_slice())), next_offset);
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /{app-id}/listen[?fields=...]`: the app's deliveries while the stream is
/// open, instead of POSTs to its callback. The first event (`ready`) names the
/// listener; each `delivery` carries the exact body and both signatures.
pub async fn listen(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let fields = request.params.list("fields")?;
    let listener = platform.pickups.listen(caller, app, fields.as_deref()).await?;
    let ready = serde_json::json!({"listener": listener.id(), "app_id": listener.app().as_str()});
    let first = stream::once(async move { Ok::<_, Infallible>(Event::default().event("ready").data(ready.to_string())) });
    let deliveries = stream::unfold(Some(listener), |listener| async move {
        let mut listener = listener?;
        match listener.next().await {
            Ok(deliveries) => {
                let events: Vec<Result<Event, Infallible>> = deliveries
                    .into_iter()
                    .map(|delivery| {
                        let data = serde_json::json!({
                            "events": delivery.events.iter().map(|e| serde_json::json!({"id": e.id, "field": e.field.as_str(), "page_id": e.page.as_str()})).collect::<Vec<_>>(),
                            // Answered with the events: settled unsent (left out by `fields`).
                            "skipped": delivery.skipped,
                            // ASCII JSON (Meta's escaping), so it travels as a string unchanged.
                            "body": String::from_utf8_lossy(&delivery.body),
                            "signature": delivery.signatures.sha1,
                            "signature_256": delivery.signatures.sha256,
                        });
                        Ok(Event::default().event("delivery").data(data.to_string()))
                    })
                    .collect();
                Some((stream::iter(events), Some(listener)))
            }
            Err(error) => {
                // The listener reconnects; its events were let go when it dropped.
                tracing::warn!(?error, "a listener's stream ends on a failure");
                None
            }
        }
    })
    .flatten();
    Ok(Sse::new(first.chain(deliveries)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response())
}

/// `POST /{app-id}/listen`: a listener's answer for one delivery (its bot's status).
pub async fn answer(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let p = &request.params;
    let events = p
        .list("events")?
        .ok_or_else(|| Refusal::missing_param("events"))?
        .iter()
        .map(|id| id.parse::<i64>().map_err(|_| Refusal::invalid_param("Param events must list event ids")))
        .collect::<Result<Vec<_>, _>>()?;
    let status = int_param(request, "status")?;
    let status = status.map(|s| u16::try_from(s).ok().filter(|s| (100..600).contains(s)).ok_or_else(|| Refusal::invalid_param("Param status must be an HTTP status"))).transpose()?;
    let answer = ListenerAnswer {
        listener: p.str("listener")?.unwrap_or_default(),
        events,
        status,
        error: p.str("error")?,
        latency_ms: int_param(request, "latency_ms")?.unwrap_or(0),
        forward_to: p.str("forward_to")?.unwrap_or_default(),
        excerpt: p.str("excerpt")?.unwrap_or_default(),
    };
    platform.pickups.answer(caller, app, answer).await?;
    Ok(success())
}
