//! The Handover Protocol's calls (Page token): passing, taking, requesting and
//! releasing a thread, its owner, and the Page's secondary receivers.

use super::{json, success, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::PageRef;
use switchboard_wire::graph::Data;

/// `POST /me/pass_thread_control` `{"recipient":{"id"},"target_app_id","metadata"}`.
pub async fn pass(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    platform.handover.pass(request.caller()?, page, &request.params).await?;
    Ok(success())
}

/// `POST /me/take_thread_control` `{"recipient":{"id"},"metadata"}`.
pub async fn take(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    platform.handover.take(request.caller()?, page, &request.params).await?;
    Ok(success())
}

/// `POST /me/request_thread_control` `{"recipient":{"id"},"metadata"}`.
pub async fn request(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    platform.handover.request(request.caller()?, page, &request.params).await?;
    Ok(success())
}

/// `POST /me/release_thread_control` `{"recipient":{"id"}}`.
pub async fn release(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    platform.handover.release(request.caller()?, page, &request.params).await?;
    Ok(success())
}

/// `GET /me/thread_owner?recipient=<PSID>` → `{"data":[{"thread_owner":{"app_id"}}]}`.
pub async fn thread_owner(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let data = platform.handover.thread_owner(request.caller()?, page, &request.params).await?;
    Ok(json(Data { data }))
}

/// `GET /me/secondary_receivers?fields=id,name` → `{"data":[{"id","name"}]}`.
pub async fn secondary_receivers(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let fields = request.params.list("fields")?.unwrap_or_default();
    let data = platform.handover.secondary_receivers(request.caller()?, page, &fields).await?;
    Ok(json(Data { data }))
}
