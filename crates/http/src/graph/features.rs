//! What a Page may do and who may be told: its recurring-notification tokens, paged,
//! and the review of its messaging features.

use super::{json, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::PageRef;
use switchboard_wire::graph;

/// `GET /{page-id}/notification_message_tokens[?limit=][&after=]` (Page token).
pub async fn notification_message_tokens(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let paged = platform.notifications.token_inventory(caller, page, &request.params).await?;
    let next = super::conversations::next_url(platform, request, &paged);
    Ok(json(paged.graph(next)))
}

/// `GET /{page-id}/messaging_feature_review` (Page token).
pub async fn messaging_feature_review(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let data = platform.features.feature_review(caller, page).await?;
    Ok(json(graph::Paged { data, paging: None }))
}
