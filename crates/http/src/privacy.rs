//! Privacy on the person API (delete the account, a conversation, block a Page,
//! download everything) and on the console API (an app's privacy callback URLs and
//! the callbacks it was sent, a Page's retention, the operator's audit trail and a
//! retention pass on demand).

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path, Query};
use crate::session::{Signed, SignedPerson};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_app::views::{Listing, Success, SUCCESS};
use switchboard_app::{AuditEntry, CallbackView, Platform, Pruned};
use switchboard_domain::{AppId, PageId, PageRef};

pub fn person_routes() -> Router<Platform> {
    Router::new()
        .route("/me", delete(delete_account))
        .route("/me/export", get(export))
        .route("/threads/{page}", delete(delete_conversation))
        .route("/pages/{page}/block", post(block).delete(unblock))
        .route("/pages/{page}/report", post(report))
        .route("/blocks", get(blocks))
}

pub fn console_routes() -> Router<Platform> {
    Router::new()
        .route("/apps/{app}/privacy", get(app_privacy).patch(set_app_privacy))
        .route("/apps/{app}/privacy-callbacks", get(app_callbacks))
        .route("/pages/{page}/retention", put(set_retention).get(retention))
        .route("/privacy/audit", get(audit))
        .route("/privacy/retention/run", post(run_retention))
}

#[derive(Deserialize)]
struct Confirmation {
    password: String,
}

/// `DELETE /person/v1/me` `{"password"}`: the account is erased for good.
async fn delete_account(State(platform): State<Platform>, SignedPerson(person): SignedPerson, JsonBody(body): JsonBody<Confirmation>) -> HttpResult<Json<Success>> {
    platform.privacy.delete_account(person, &body.password).await?;
    Ok(Json(SUCCESS))
}

/// `GET /person/v1/me/export`: everything held about the person, as a download.
async fn export(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Response> {
    let document = platform.privacy.export(person).await?;
    let mut response = Json(document).into_response();
    response.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"switchboard-export.json\""));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /person/v1/threads/{page}`: the conversation is gone for the person.
async fn delete_conversation(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path(page): Path<PageRef>) -> HttpResult<Json<Success>> {
    platform.privacy.delete_conversation(person, &page).await?;
    Ok(Json(SUCCESS))
}

/// `POST /person/v1/pages/{page}/block`.
async fn block(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path(page): Path<PageRef>) -> HttpResult<Json<Success>> {
    platform.privacy.set_blocked(person, &page, true).await?;
    Ok(Json(SUCCESS))
}

/// `DELETE /person/v1/pages/{page}/block`.
async fn unblock(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path(page): Path<PageRef>) -> HttpResult<Json<Success>> {
    platform.privacy.set_blocked(person, &page, false).await?;
    Ok(Json(SUCCESS))
}

/// `POST /person/v1/pages/{page}/report`: the person reports the conversation.
async fn report(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path(page): Path<PageRef>) -> HttpResult<Json<Success>> {
    platform.privacy.report_conversation(person, &page).await?;
    Ok(Json(SUCCESS))
}

/// `GET /person/v1/blocks`: the Pages the person blocked.
async fn blocks(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Json<Listing<Value>>> {
    Ok(Json(Listing { data: platform.privacy.blocked_pages(person).await? }))
}

/// `GET /console/v1/apps/{app}/privacy`: the app's privacy callback URLs.
async fn app_privacy(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Value>> {
    let urls = platform.privacy.urls(actor, &AppId(app)).await?;
    Ok(Json(json!({"deauthorize_callback_url": urls.deauthorize_callback_url, "data_deletion_url": urls.data_deletion_url})))
}

#[derive(Deserialize)]
struct PrivacyUrlsChange {
    deauthorize_callback_url: Option<String>,
    data_deletion_url: Option<String>,
}

/// `PATCH /console/v1/apps/{app}/privacy` `{"deauthorize_callback_url"?, "data_deletion_url"?}`
/// (an empty string removes one); app administrators.
async fn set_app_privacy(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, JsonBody(body): JsonBody<PrivacyUrlsChange>) -> HttpResult<Json<Value>> {
    let urls = platform.privacy.set_urls(actor, &AppId(app), body.deauthorize_callback_url.as_deref(), body.data_deletion_url.as_deref()).await?;
    Ok(Json(json!({"deauthorize_callback_url": urls.deauthorize_callback_url, "data_deletion_url": urls.data_deletion_url})))
}

/// `GET /console/v1/apps/{app}/privacy-callbacks`: deletion requests and
/// deauthorizations sent to the app, with its answers, newest first.
async fn app_callbacks(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Listing<CallbackView>>> {
    Ok(Json(Listing { data: platform.privacy.callbacks(actor, &AppId(app)).await? }))
}

#[derive(Deserialize)]
struct RetentionChange {
    /// `null`: the installation's.
    retention_days: Option<u32>,
}

/// `PUT /console/v1/pages/{page}/retention` `{"retention_days": N | null}` (Page admin).
async fn set_retention(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>, JsonBody(body): JsonBody<RetentionChange>) -> HttpResult<Json<Value>> {
    let page = PageId(page);
    platform.privacy.set_page_retention(actor, &page, body.retention_days).await?;
    Ok(Json(platform.privacy.page_retention(actor, &page).await?))
}

/// `GET /console/v1/pages/{page}/retention` (Page admin).
async fn retention(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<Value>> {
    Ok(Json(platform.privacy.page_retention(actor, &PageId(page)).await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// `GET /console/v1/privacy/audit?before=&limit=` (operator): newest first.
async fn audit(State(platform): State<Platform>, Signed(actor): Signed, Query(query): Query<AuditQuery>) -> HttpResult<Json<Listing<AuditEntry>>> {
    Ok(Json(Listing { data: platform.privacy.audit(actor, query.before, query.limit.unwrap_or(100)).await? }))
}

/// `POST /console/v1/privacy/retention/run` (operator): one retention pass now.
async fn run_retention(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Pruned>> {
    Ok(Json(platform.privacy.prune_now(actor).await?))
}
