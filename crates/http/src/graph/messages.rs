//! The Send API.

use super::caller;
use crate::error::HttpResult;
use crate::request::GraphRequest;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_app::Platform;

/// `POST /{page-id}/messages` and `POST /me/messages` (Page token).
pub async fn send(platform: &Platform, request: &GraphRequest, page: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let answer = platform.send(&caller, page, &request.params).await?;
    Ok(Json(answer).into_response())
}
