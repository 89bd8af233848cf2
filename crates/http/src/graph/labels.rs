//! Custom labels (Page token): `/{page-id}/custom_labels`, `/{psid}/custom_labels`,
//! `/{label-id}` and `/{label-id}/label`.

use super::conversations::next_url;
use super::{json, success, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::PageRef;
use switchboard_wire::graph;

/// `POST /{page-id}/custom_labels` `{"page_label_name"}` (or `name`): `{"id"}`.
pub async fn create(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    Ok(json(graph::Created { id: platform.labels.create(caller, page, &request.params).await? }))
}

/// `GET /{page-id}/custom_labels` and `GET /{psid}/custom_labels`, paged.
pub async fn list(platform: &Platform, request: &GraphCall, node: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let paged = platform.labels.list(caller, node, &request.params).await?;
    let next = next_url(platform, request, &paged);
    Ok(json(paged.graph(next)))
}

/// `DELETE /{label-id}`: `{"success": true}`; `None` when the id is no label of the
/// caller's Page (the next kind of node is tried).
pub async fn delete_node(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Option<Response>> {
    let caller = request.caller()?;
    Ok(platform.labels.delete(caller, id).await?.then(success))
}

/// `POST /{label-id}/label` `{"user": "<PSID>"}`: `{"success": true}`.
pub async fn add_person(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.labels.add_person(caller, id, &request.params).await?;
    Ok(success())
}

/// `DELETE /{label-id}/label` with `user` (JSON body or query): `{"success": true}`.
pub async fn remove_person(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.labels.remove_person(caller, id, &request.params).await?;
    Ok(success())
}

/// `GET /{label-id}` for a Page token, or `None` when it is no label of its Page.
pub async fn node(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Option<Response>> {
    let caller = request.caller()?;
    Ok(platform.labels.node(caller, id, &request.params).await?.map(json))
}

