//! The console's side of the Handover Protocol and the Page inbox, under
//! `/console/v1`: a Page's receivers and routing rules (its admins), the Pages a
//! person works in, a Page's threads, one conversation, taking it, answering,
//! handing it back and filing it in a folder (its admins and agents).

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path};
use crate::session::Signed;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use switchboard_app::views::*;
use switchboard_app::Platform;
use switchboard_domain::{AppId, PageId, ReceiverRole};

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/pages/{page}/receivers", get(receivers))
        .route("/pages/{page}/receivers/{app}", post(set_receiver_role))
        .route("/pages/{page}/routing", post(set_routing))
        .route("/inbox", get(inbox_pages))
        .route("/pages/{page}/inbox", get(threads))
        .route("/pages/{page}/inbox/{psid}", get(conversation))
        .route("/pages/{page}/inbox/{psid}/take", post(take))
        .route("/pages/{page}/inbox/{psid}/messages", post(send))
        .route("/pages/{page}/inbox/{psid}/hand-back", post(hand_back))
        .route("/pages/{page}/inbox/{psid}/folder", post(set_folder))
}

/// `GET /console/v1/pages/{page}/receivers` (the Page's admins).
async fn receivers(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<ReceiversView>> {
    Ok(Json(platform.handover.receivers_view(actor, &PageId(page)).await?))
}

#[derive(Deserialize)]
struct RoleChange {
    /// `primary_receiver`, `secondary_receiver`, or `none` (or `null`).
    role: Option<String>,
}

/// `POST /console/v1/pages/{page}/receivers/{app}` `{"role"}`.
async fn set_receiver_role(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path((page, app)): Path<(String, String)>,
    JsonBody(body): JsonBody<RoleChange>,
) -> HttpResult<Json<ReceiversView>> {
    let role = match body.role.as_deref() {
        None => None,
        Some(name) => ReceiverRole::parse(name)?,
    };
    Ok(Json(platform.handover.set_role(actor, &PageId(page), &AppId(app), role).await?))
}

#[derive(Deserialize)]
struct RoutingChange {
    #[serde(rename = "ref")]
    reference: String,
    /// The app threads opened with this `ref` go to; `null` removes the rule.
    app_id: Option<String>,
}

/// `POST /console/v1/pages/{page}/routing` `{"ref","app_id"}`.
async fn set_routing(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>, JsonBody(body): JsonBody<RoutingChange>) -> HttpResult<Json<ReceiversView>> {
    Ok(Json(platform.handover.set_routing(actor, &PageId(page), &body.reference, body.app_id.map(AppId)).await?))
}

/// `GET /console/v1/inbox`: the Pages I work in, with the threads waiting for an agent.
async fn inbox_pages(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Listing<InboxPageView>>> {
    Ok(Json(platform.inbox.pages(actor).await?))
}

/// `GET /console/v1/pages/{page}/inbox`: the Page's threads, most recent first.
async fn threads(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<Listing<InboxThreadView>>> {
    Ok(Json(platform.inbox.threads(actor, &PageId(page)).await?))
}

/// `GET /console/v1/pages/{page}/inbox/{psid}`: one conversation (marked seen).
async fn conversation(State(platform): State<Platform>, Signed(actor): Signed, Path((page, psid)): Path<(String, String)>) -> HttpResult<Json<ConversationView>> {
    Ok(Json(platform.inbox.conversation(actor, &PageId(page), &psid).await?))
}

/// `POST /console/v1/pages/{page}/inbox/{psid}/take`.
async fn take(State(platform): State<Platform>, Signed(actor): Signed, Path((page, psid)): Path<(String, String)>) -> HttpResult<Json<ConversationView>> {
    Ok(Json(platform.inbox.take(actor, &PageId(page), &psid).await?))
}

#[derive(Deserialize)]
struct AgentMessage {
    text: String,
}

/// `POST /console/v1/pages/{page}/inbox/{psid}/messages` `{"text"}`.
async fn send(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path((page, psid)): Path<(String, String)>,
    JsonBody(body): JsonBody<AgentMessage>,
) -> HttpResult<Json<MessageView>> {
    Ok(Json(platform.inbox.send(actor, &PageId(page), &psid, &body.text).await?))
}

/// `POST /console/v1/pages/{page}/inbox/{psid}/hand-back`.
async fn hand_back(State(platform): State<Platform>, Signed(actor): Signed, Path((page, psid)): Path<(String, String)>) -> HttpResult<Json<ConversationView>> {
    Ok(Json(platform.inbox.hand_back(actor, &PageId(page), &psid).await?))
}

#[derive(Deserialize)]
struct FolderChange {
    /// `inbox`, `page_done` or `spam`; read by the service, after the access check.
    folder: Option<String>,
}

/// `POST /console/v1/pages/{page}/inbox/{psid}/folder` `{"folder"}`.
async fn set_folder(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path((page, psid)): Path<(String, String)>,
    JsonBody(body): JsonBody<FolderChange>,
) -> HttpResult<Json<ConversationView>> {
    Ok(Json(platform.inbox.set_folder(actor, &PageId(page), &psid, body.folder.as_deref()).await?))
}
