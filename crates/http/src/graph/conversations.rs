//! The Conversations API: a Page's threads and their messages, paged.

use super::{json, GraphCall};
use crate::error::HttpResult;
use switchboard_domain::PageRef;
use axum::response::Response;
use switchboard_app::{Paged, Platform};
use switchboard_domain::Refusal;

/// The URL of the page after this one: the same request with `after` moved on.
pub(super) fn next_url(platform: &Platform, request: &GraphCall, paged: &Paged) -> Option<String> {
    let after = paged.after.as_ref()?;
    Some(super::url_with(platform, request, &[("after", after.clone())]))
}

/// `GET /{page-id}/conversations?platform=messenger[&user_id=][&fields=][&limit=][&after=]`.
pub async fn list(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let paged = platform.conversations.conversations(caller, page, &request.params).await?;
    let next = next_url(platform, request, &paged);
    Ok(json(paged.graph(next)))
}

/// `GET /{conversation-id}/messages`.
pub async fn messages(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let paged = platform.conversations.conversation_messages(caller, id, &request.params).await?.ok_or_else(|| Refusal::unknown_object(id))?;
    let next = next_url(platform, request, &paged);
    Ok(json(paged.graph(next)))
}
