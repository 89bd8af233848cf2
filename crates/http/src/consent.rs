//! How apps join Pages, on the console and person APIs: an app's redirect URIs,
//! App Review (developers submit, the operator decides), businesses for ID matching,
//! and the login dialog's two calls from the signed-in person's browser.

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path, Query};
use crate::session::{Signed, SignedPerson};
use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_app::{DialogAnswer, DialogRequest, Platform};
use switchboard_domain::{AppId, PageId};
use switchboard_store::BusinessAsset;

/// Console routes, under `/console/v1`.
pub fn console_routes() -> Router<Platform> {
    Router::new()
        .route("/apps/{app}/redirect-uris", get(redirect_uris).put(set_redirect_uris))
        .route("/apps/{app}/review", get(reviews).post(submit_review))
        .route("/apps/{app}/review/{permission}", post(decide_review))
        .route("/reviews", get(pending_reviews))
        .route("/businesses", get(businesses).post(create_business))
        .route("/businesses/{business}/apps/{app}", put(assign_app))
        .route("/businesses/{business}/pages/{page}", put(assign_page))
}

/// Person routes, under `/person/v1`.
pub fn person_routes() -> Router<Platform> {
    Router::new().route("/login-dialog", get(login_dialog).post(answer_login_dialog))
}

#[derive(Deserialize)]
struct RedirectUris {
    redirect_uris: Vec<String>,
}

/// `GET /console/v1/apps/{app}/redirect-uris` (administrators and developers).
async fn redirect_uris(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Value>> {
    Ok(Json(json!({"redirect_uris": platform.consent.redirect_uris(actor, &AppId(app)).await?})))
}

/// `PUT /console/v1/apps/{app}/redirect-uris` `{"redirect_uris": [...]}` (administrators):
/// where the login dialog may send a person back, matched exactly.
async fn set_redirect_uris(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, JsonBody(body): JsonBody<RedirectUris>) -> HttpResult<Json<Value>> {
    Ok(Json(json!({"redirect_uris": platform.consent.set_redirect_uris(actor, &AppId(app), &body.redirect_uris).await?})))
}

/// `GET /console/v1/apps/{app}/review`: each permission's state in App Review.
async fn reviews(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Value>> {
    Ok(Json(json!({"permissions": platform.consent.reviews(actor, &AppId(app)).await?})))
}

#[derive(Deserialize)]
struct Submission {
    permissions: Vec<String>,
    note: String,
}

/// `POST /console/v1/apps/{app}/review` `{"permissions": [...], "note"}` (administrators
/// and developers).
async fn submit_review(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, JsonBody(body): JsonBody<Submission>) -> HttpResult<Json<Value>> {
    Ok(Json(json!({"permissions": platform.consent.submit_review(actor, &AppId(app), &body.permissions, &body.note).await?})))
}

#[derive(Deserialize)]
struct Decision {
    approve: bool,
    reason: Option<String>,
}

/// `POST /console/v1/apps/{app}/review/{permission}` `{"approve", "reason"?}` (operator;
/// a decline says why).
async fn decide_review(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path((app, permission)): Path<(String, String)>,
    JsonBody(body): JsonBody<Decision>,
) -> HttpResult<Json<Value>> {
    let states = platform.consent.decide_review(actor, &AppId(app), &permission, body.approve, body.reason.as_deref()).await?;
    Ok(Json(json!({"permissions": states})))
}

/// `GET /console/v1/reviews` (operator): apps waiting for a decision.
async fn pending_reviews(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Value>> {
    Ok(Json(json!({"data": platform.consent.pending_reviews(actor).await?})))
}

#[derive(Deserialize)]
struct NewBusiness {
    name: String,
}

fn business_view(business: switchboard_store::Business) -> Value {
    json!({"id": business.id, "name": business.name, "admin_id": business.admin.map(|p| p.0)})
}

/// `POST /console/v1/businesses` `{"name"}`: a person making one administers it.
async fn create_business(State(platform): State<Platform>, Signed(actor): Signed, JsonBody(body): JsonBody<NewBusiness>) -> HttpResult<Json<Value>> {
    Ok(Json(business_view(platform.consent.create_business(actor, &body.name).await?)))
}

/// `GET /console/v1/businesses`: those the caller administers (every one, for the operator).
async fn businesses(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Value>> {
    let data: Vec<Value> = platform.consent.businesses(actor).await?.into_iter().map(business_view).collect();
    Ok(Json(json!({"data": data})))
}

/// `PUT /console/v1/businesses/{business}/apps/{app}` (the business's admin, who
/// administers the app).
async fn assign_app(State(platform): State<Platform>, Signed(actor): Signed, Path((business, app)): Path<(String, String)>) -> HttpResult<Json<Value>> {
    platform.consent.assign_to_business(actor, &business, BusinessAsset::App(AppId(app))).await?;
    Ok(Json(json!({"success": true})))
}

/// `PUT /console/v1/businesses/{business}/pages/{page}` (the business's admin, who
/// administers the Page).
async fn assign_page(State(platform): State<Platform>, Signed(actor): Signed, Path((business, page)): Path<(String, String)>) -> HttpResult<Json<Value>> {
    platform.consent.assign_to_business(actor, &business, BusinessAsset::Page(PageId(page))).await?;
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
struct DialogQuery {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    state: Option<String>,
}

impl From<DialogQuery> for DialogRequest {
    fn from(query: DialogQuery) -> Self {
        DialogRequest { client_id: query.client_id, redirect_uri: query.redirect_uri, scope: query.scope, state: query.state }
    }
}

/// `GET /person/v1/login-dialog?client_id&redirect_uri&scope`: what the login dialog
/// shows the signed-in person (the app, the permissions asked, their Pages).
async fn login_dialog(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Query(query): Query<DialogQuery>) -> HttpResult<Json<Value>> {
    Ok(Json(serde_json::to_value(platform.consent.login_dialog(person, &query.into()).await?).unwrap_or_default()))
}

#[derive(Deserialize)]
struct DialogAnswerBody {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    state: Option<String>,
    allow: bool,
    permissions: Option<Vec<String>>,
    #[serde(default)]
    pages: Vec<String>,
}

/// `POST /person/v1/login-dialog` `{client_id, redirect_uri, scope, state, allow,
/// permissions?, pages}`: the person's answer; answers `{"redirect": url}`, the app's
/// registered URI with `code` and `state` (or Meta's `access_denied`).
async fn answer_login_dialog(State(platform): State<Platform>, SignedPerson(person): SignedPerson, JsonBody(body): JsonBody<DialogAnswerBody>) -> HttpResult<Json<Value>> {
    let request = DialogRequest { client_id: body.client_id, redirect_uri: body.redirect_uri, scope: body.scope, state: body.state };
    let answer = DialogAnswer { allow: body.allow, permissions: body.permissions, pages: body.pages };
    Ok(Json(json!({"redirect": platform.consent.answer_dialog(person, &request, answer).await?})))
}
