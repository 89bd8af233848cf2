//! The console API: operator and developer actions. Persons, Pages, apps, roles,
//! and the grant that lets an app act for a Page. Callers sign in with a person's
//! session or the operator credential; each use case checks their rights.

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path};
use crate::session::Signed;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use switchboard_app::views::*;
use switchboard_app::Platform;
use switchboard_domain::{AppId, AppMode, AppRole, Millis, Page, PageFeature, PageId, PageRole, PersonId, Refusal};

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/login", post(crate::person::login))
        .route("/logout", post(crate::person::logout))
        .route("/persons", post(create_person))
        .route("/pages", get(crate::listings::pages).post(create_page))
        .route("/apps", get(crate::listings::apps).post(create_app))
        .route("/apps/{app}/roles", get(crate::listings::app_roles).post(set_app_role))

        .route("/pages/{page}/roles", post(set_page_role))
        .route("/pages/{page}/apps", post(grant_page))
        .route("/pages/{page}/apps/{app}", axum::routing::delete(revoke_page_grant))
        .route("/pages/{page}/features", get(page_features))
        .route("/pages/{page}/features/{feature}", post(apply_page_feature))
        .route("/pages/{page}/features/{feature}/approve", post(approve_page_feature))

        .route("/apps/{app}", get(show_app).patch(update_app))

        .route("/apps/{app}/audit", get(app_audit))
        .route("/apps/{app}/policy", post(enforce_policy))
        .route("/apps/{app}/user-tokens", post(user_token))
        .route("/clock", get(clock).post(move_clock))
}

/// `GET /console/v1/clock` (anyone signed in): the server's time, epoch ms.
async fn clock(State(platform): State<Platform>, Signed(_): Signed) -> Json<ClockView> {
    Json(platform.ops.clock())
}

#[derive(Deserialize)]
struct ClockMove {
    advance_ms: Option<Millis>,
    to: Option<Millis>,
    skew_ms: Option<Millis>,
}

/// `POST /console/v1/clock` `{"advance_ms"}` or `{"to"}` (operator, virtual clock
/// only), or `{"skew_ms"}` (operator, fault clock only).
async fn move_clock(State(platform): State<Platform>, Signed(actor): Signed, JsonBody(body): JsonBody<ClockMove>) -> HttpResult<Json<ClockView>> {
    Ok(Json(platform.ops.move_clock(actor, body.advance_ms, body.to, body.skew_ms).await?))
}

#[derive(Deserialize)]
struct NewPerson {
    name: String,
    login: String,
    password: String,
}

/// `POST /console/v1/persons` `{"name","login","password"}` (operator).
async fn create_person(State(platform): State<Platform>, Signed(actor): Signed, JsonBody(body): JsonBody<NewPerson>) -> HttpResult<Json<PersonView>> {
    Ok(Json(platform.directory.create_person(actor, &body.name, &body.login, &body.password).await?.into()))
}

#[derive(Deserialize)]
struct NewPage {
    name: String,
    username: String,
}

/// `POST /console/v1/pages` `{"name","username"}`; a person creating it becomes its admin.
async fn create_page(State(platform): State<Platform>, Signed(actor): Signed, JsonBody(body): JsonBody<NewPage>) -> HttpResult<Json<Page>> {
    Ok(Json(platform.directory.create_page(actor, &body.name, &body.username).await?))
}

#[derive(Deserialize)]
struct RoleChange {
    /// The person, by id or by login.
    person_id: Option<i64>,
    login: Option<String>,
    /// The role, or `null` to remove the person's role.
    role: Option<String>,
}

impl RoleChange {
    async fn person(&self, platform: &Platform) -> HttpResult<PersonId> {
        match (&self.person_id, &self.login) {
            (Some(id), _) => Ok(PersonId(*id)),
            (None, Some(login)) => Ok(platform.listings.person_named(login).await?.id),
            (None, None) => Err(Refusal::missing_param("person_id or login").into()),
        }
    }
}

/// `POST /console/v1/pages/{page}/roles` `{"person_id"|"login","role":"admin"|null}` (Page admin).
async fn set_page_role(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(page): Path<String>,
    JsonBody(body): JsonBody<RoleChange>,
) -> HttpResult<Json<Success>> {
    let role = match body.role.as_deref() {
        None => None,
        Some(name) => Some(
            PageRole::parse(name).ok_or_else(|| Refusal::invalid_param(format!("role must be \"admin\", \"agent\" or null, not \"{name}\"")))?,
        ),
    };
    platform.directory.set_page_role(actor, &PageId(page), body.person(&platform).await?, role).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct Grant {
    app_id: String,
    /// With the operator credential: the Page admin on whose behalf the app acts.
    person_id: Option<i64>,
}

/// `POST /console/v1/pages/{page}/apps` `{"app_id","person_id"?}` (Page admin): lets
/// the app act for the Page; answers the Page access token.
async fn grant_page(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(page): Path<String>,
    JsonBody(body): JsonBody<Grant>,
) -> HttpResult<Json<PageAccountView>> {
    Ok(Json(platform.directory.grant_page(actor, &PageId(page), &AppId(body.app_id), body.person_id.map(PersonId)).await?.into()))
}

/// `DELETE /console/v1/pages/{page}/apps/{app}` (Page admin): removes the app from
/// the Page; its Page tokens stop working and its webhooks for the Page stop.
async fn revoke_page_grant(State(platform): State<Platform>, Signed(actor): Signed, Path((page, app)): Path<(String, String)>) -> HttpResult<Json<Success>> {
    platform.directory.revoke_page_grant(actor, &PageId(page), &AppId(app)).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct NewApp {
    name: String,
}

/// `POST /console/v1/apps` `{"name"}` → the app with its secret.
async fn create_app(State(platform): State<Platform>, Signed(actor): Signed, JsonBody(body): JsonBody<NewApp>) -> HttpResult<Json<AppView>> {
    Ok(Json(platform.directory.create_app(actor, &body.name).await?.into()))
}

/// `GET /console/v1/apps/{app}` (app administrator): settings and secret.
async fn show_app(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<AppView>> {
    Ok(Json(platform.directory.app_credentials(actor, &AppId(app)).await?.into()))
}

fn feature(name: &str) -> Result<PageFeature, Refusal> {
    PageFeature::parse(name).ok_or_else(|| Refusal::invalid_param(format!("feature must be phone_numbers or one_time_notif - got \"{name}\"")))
}

/// `GET /console/v1/pages/{page}/features` (Page admin).
async fn page_features(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<Listing<FeatureView>>> {
    Ok(Json(Listing::of(platform.features.page_features(actor, &PageId(page)).await?)))
}

#[derive(Deserialize)]
struct FeatureApplication {
    #[serde(default)]
    accept_terms: bool,
}

/// `POST /console/v1/pages/{page}/features/{feature}` `{"accept_terms": true}` (Page admin).
async fn apply_page_feature(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path((page, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<FeatureApplication>,
) -> HttpResult<Json<Listing<FeatureView>>> {
    let features = platform.features.apply_page_feature(actor, &PageId(page), feature(&name)?, body.accept_terms).await?;
    Ok(Json(Listing::of(features)))
}

/// `POST /console/v1/pages/{page}/features/{feature}/approve` (operator).
async fn approve_page_feature(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path((page, name)): Path<(String, String)>,
) -> HttpResult<Json<Listing<FeatureView>>> {
    Ok(Json(Listing::of(platform.features.approve_page_feature(actor, &PageId(page), feature(&name)?).await?)))
}

/// `GET /console/v1/apps/{app}/audit` (app administrator): mode changes, oldest first.
async fn app_audit(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Listing<AuditView>>> {
    Ok(Json(Listing::of(platform.directory.app_audit(actor, &AppId(app)).await?)))
}

#[derive(Deserialize)]
struct PolicyEnforcement {
    action: Option<String>,
    reason: Option<String>,
}

/// `POST /console/v1/apps/{app}/policy` `{"action":"warning"|"block"|"unblock","reason"}`
/// (operator): the app hears of it on its Pages (`messaging_policy_enforcement`);
/// while blocked, its messaging writes are refused.
async fn enforce_policy(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<PolicyEnforcement>,
) -> HttpResult<Json<PolicyView>> {
    // Who asks is checked before what they ask: the service reads the action.
    Ok(Json(platform.directory.enforce_policy(actor, &AppId(app), body.action.as_deref(), body.reason.as_deref()).await?.into()))
}

#[derive(Deserialize)]
struct AppChange {
    mode: Option<AppMode>,
    require_appsecret_proof: Option<bool>,
    #[serde(default)]
    reset_secret: bool,
    /// The privacy callbacks (as `PATCH /console/v1/apps/{app}/privacy` sets them).
    deauthorize_callback_url: Option<String>,
    data_deletion_url: Option<String>,
}

/// `PATCH /console/v1/apps/{app}` `{"mode"?,"require_appsecret_proof"?,"reset_secret"?,
/// "deauthorize_callback_url"?,"data_deletion_url"?}`.
async fn update_app(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<AppChange>,
) -> HttpResult<Json<AppView>> {
    let app = AppId(app);
    if body.deauthorize_callback_url.is_some() || body.data_deletion_url.is_some() {
        platform.privacy.set_urls(actor, &app, body.deauthorize_callback_url.as_deref(), body.data_deletion_url.as_deref()).await?;
    }
    let updated = platform.directory.update_app(actor, &app, body.mode, body.require_appsecret_proof, body.reset_secret).await?;
    Ok(Json(updated.into()))
}

/// `POST /console/v1/apps/{app}/roles` `{"person_id"|"login","role":"administrator"|"developer"|"tester"|null}`.
async fn set_app_role(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<RoleChange>,
) -> HttpResult<Json<Success>> {
    let role = match body.role.as_deref() {
        None => None,
        Some(name) => Some(AppRole::parse(name).ok_or_else(|| Refusal::invalid_param(format!("role must be administrator, developer, tester or null, not \"{name}\"")))?),
    };
    platform.directory.set_app_role(actor, &AppId(app), body.person(&platform).await?, role).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct TokenRequest {
    person_id: i64,
}

/// `POST /console/v1/apps/{app}/user-tokens` `{"person_id"}`: the person logs in to
/// the app (what Facebook Login does); answers a user access token.
async fn user_token(
    State(platform): State<Platform>,
    Signed(actor): Signed,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> HttpResult<Json<TokenView>> {
    Ok(Json(TokenView::bearer(platform.directory.user_token(actor, &AppId(app), PersonId(body.person_id)).await?)))
}
