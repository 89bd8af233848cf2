//! The Send API and the Attachment Upload API.

use super::{caller, json};
use crate::error::HttpResult;
use crate::request::GraphRequest;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_app::Platform;

/// `POST /{page-id}/messages` and `POST /me/messages` (Page token), in every encoding,
/// multipart with `filedata` included.
pub async fn send(platform: &Platform, request: &GraphRequest, page: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let answer = platform.send(&caller, page, &request.params, request.upload.clone()).await?;
    Ok(Json(answer).into_response())
}

/// `POST /{page-id}/message_attachments` (Page token): `{"attachment_id"}`.
pub async fn upload_attachment(platform: &Platform, request: &GraphRequest, page: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let id = platform.upload_attachment(&caller, page, &request.params, request.upload.clone()).await?;
    Ok(json(serde_json::json!({ "attachment_id": id })))
}
