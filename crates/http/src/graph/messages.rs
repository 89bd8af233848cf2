//! The Send API and the Attachment Upload API.

use super::{json, GraphCall};
use crate::error::HttpResult;
use switchboard_domain::PageRef;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_app::Platform;
use switchboard_wire::graph::AttachmentId;

/// `POST /{page-id}/messages` and `POST /me/messages` (Page token), in every encoding,
/// multipart with `filedata` included.
pub async fn send(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let answer = platform.messaging.send(caller, page, &request.params, request.upload.clone()).await?;
    Ok(Json(answer).into_response())
}

/// `POST /{page-id}/message_attachments` (Page token): `{"attachment_id"}`.
pub async fn upload_attachment(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let id = platform.media.upload_attachment(caller, page, &request.params, request.upload.clone()).await?;
    Ok(json(AttachmentId { attachment_id: id }))
}
