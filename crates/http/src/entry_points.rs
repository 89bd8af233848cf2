//! Entry points on a business's website and account linking. Public: the script a
//! site includes (`/sdk.js`, in the manner of Meta's JavaScript SDK), the check it
//! makes before showing a plugin (CORS, by the browser's `Origin`), the plugin pages
//! it frames (each framable by the Page's whitelisted origins only), and the
//! `redirect_uri` a site sends the person back to after account linking. Under the
//! person API: what the plugins and the web messenger do for the signed-in person.

use crate::error::{HttpError, HttpResult};
use crate::extract::{JsonBody, Path, Query};
use crate::session::SignedPerson;
use crate::web::{framable_page, MESSENGER};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use switchboard_app::views::{PersonView, Success, SUCCESS};
use switchboard_app::{LinkingResult, Platform};
use switchboard_domain::entry::ReferralSource;
use switchboard_domain::{AppMode, Page, PageId, PageRef, Refusal};

const SDK: &str = include_str!("../web/plugins/sdk.js");
const SEND_TO_MESSENGER: &str = include_str!("../web/plugins/send_to_messenger.html");
const CHECKBOX: &str = include_str!("../web/plugins/checkbox.html");

/// Routes outside the API prefixes.
pub fn public_routes() -> Router<Platform> {
    Router::new()
        .route("/sdk.js", get(sdk))
        .route("/en_US/sdk.js", get(sdk))
        .route("/plugins/v1/check", get(check))
        .route("/plugins/send_to_messenger", get(|state, query| plugin_page(state, query, SEND_TO_MESSENGER)))
        .route("/plugins/checkbox", get(|state, query| plugin_page(state, query, CHECKBOX)))
        .route("/plugins/customerchat", get(|state, query| plugin_page(state, query, MESSENGER)))
        .route("/messenger_platform/account_linking", get(linking_return))
        .route("/messenger_platform/account_linking/", get(linking_return))
}

/// Routes under `/person/v1`.
pub fn person_routes() -> Router<Platform> {
    Router::new()
        .route("/plugins/access", get(access))
        .route("/plugins/send_to_messenger", post(send_to_messenger))
        .route("/plugins/checkbox", post(checkbox))
        .route("/threads/{page}/referral", post(referral))
        .route("/threads/{page}/account_linking", post(start_linking))
        .route("/threads/{page}/account_unlinking", post(unlink))
}

/// `GET /sdk.js`: a classic script, cached briefly (sites load it on every page).
async fn sdk() -> Response {
    let mut response = SDK.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[derive(Deserialize)]
struct PluginQuery {
    app_id: Option<String>,
    page_id: Option<String>,
    /// Where the site says it is; the browser's `Origin` header wins when present.
    origin: Option<String>,
}

#[derive(Serialize)]
struct CheckAnswer {
    ok: bool,
    app_mode: AppMode,
}

/// `GET /plugins/v1/check?app_id&page_id`: whether the site the browser is on may
/// show the app's plugin for the Page; answered to that origin only (CORS), so that
/// the script can log why not.
async fn check(State(platform): State<Platform>, headers: HeaderMap, Query(query): Query<PluginQuery>) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_string).or(query.origin);
    let answer = async {
        let origin = origin.as_deref().ok_or_else(|| Refusal::missing_param("origin"))?;
        let (app_id, page) = plugin_names(&query.app_id, &query.page_id)?;
        let (_, app) = platform.entry_points.plugin_check(app_id, &page, origin).await?;
        Ok::<_, HttpError>(Json(CheckAnswer { ok: true, app_mode: app.mode }))
    };
    let mut response = answer.await.into_response();
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn plugin_names<'q>(app_id: &'q Option<String>, page_id: &Option<String>) -> Result<(&'q str, PageRef), Refusal> {
    let app_id = app_id.as_deref().filter(|a| !a.is_empty()).ok_or_else(|| Refusal::missing_param("app_id"))?;
    let page = page_id.as_deref().filter(|p| !p.is_empty()).ok_or_else(|| Refusal::missing_param("page_id"))?;
    Ok((app_id, PageRef::parse(page)))
}

/// A plugin's page, framable by the Page's whitelisted origins only; a Page that
/// does not exist (or has none) gets a page no one may frame.
async fn plugin_page(State(platform): State<Platform>, Query(query): Query<PluginQuery>, html: &'static str) -> Response {
    let ancestors = match query.page_id.as_deref().filter(|p| !p.is_empty()) {
        Some(page) => platform.entry_points.plugin_origins(&PageRef::parse(page)).await.unwrap_or_default(),
        None => Vec::new(),
    };
    framable_page(html, &ancestors)
}

#[derive(Serialize)]
struct AccessView {
    page: Page,
    person: PersonView,
    app_mode: AppMode,
}

/// `GET /person/v1/plugins/access?app_id&page_id&origin`: whether this person sees
/// the app's plugin on that site (in development mode only its role holders do).
async fn access(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Query(query): Query<PluginQuery>) -> HttpResult<Json<AccessView>> {
    let (app_id, page) = plugin_names(&query.app_id, &query.page_id)?;
    let origin = query.origin.as_deref().ok_or_else(|| Refusal::missing_param("origin"))?;
    let (page, app) = platform.entry_points.plugin_access(person, app_id, &page, origin).await?;
    let person = platform.directory.person(person).await?.into();
    Ok(Json(AccessView { page, person, app_mode: app.mode }))
}

#[derive(Deserialize)]
struct PluginAction {
    app_id: String,
    page_id: String,
    origin: String,
    #[serde(rename = "ref")]
    reference: Option<String>,
    user_ref: Option<String>,
}

#[derive(Serialize)]
struct OpenedThread {
    page: Page,
}

/// `POST /person/v1/plugins/send_to_messenger` `{"app_id","page_id","origin","ref"?}`.
async fn send_to_messenger(State(platform): State<Platform>, SignedPerson(person): SignedPerson, JsonBody(body): JsonBody<PluginAction>) -> HttpResult<Json<OpenedThread>> {
    let page = PageRef::parse(&body.page_id);
    let page = platform.entry_points.send_to_messenger(person, &body.app_id, &page, body.reference, &body.origin).await?;
    Ok(Json(OpenedThread { page }))
}

/// `POST /person/v1/plugins/checkbox` `{"app_id","page_id","origin","user_ref","ref"?}`:
/// the site confirmed the ticked checkbox.
async fn checkbox(State(platform): State<Platform>, SignedPerson(person): SignedPerson, JsonBody(body): JsonBody<PluginAction>) -> HttpResult<Json<Success>> {
    let user_ref = body.user_ref.ok_or_else(|| Refusal::missing_param("user_ref"))?;
    let page = PageRef::parse(&body.page_id);
    platform.entry_points.checkbox(person, &body.app_id, &page, user_ref, body.reference, &body.origin).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct ReferralBody {
    #[serde(rename = "ref")]
    reference: String,
    source: Option<String>,
    referer_uri: Option<String>,
}

/// `POST /person/v1/threads/{page}/referral` `{"ref","source"?,"referer_uri"?}`: the
/// person came into the thread (which has messages) from a link or the chat plugin.
async fn referral(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(body): JsonBody<ReferralBody>,
) -> HttpResult<Json<Success>> {
    let source = body.source.as_deref().map(ReferralSource::parse).transpose()?.unwrap_or(ReferralSource::Shortlink);
    platform.entry_points.referral(person, &page, &body.reference, source, body.referer_uri).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct ButtonTap {
    mid: String,
    /// A JSON pointer to the button in the message's attachment payload.
    button: String,
}

#[derive(Serialize)]
struct LinkingStart {
    url: String,
}

/// `POST /person/v1/threads/{page}/account_linking` `{"mid","button"}`: the person
/// tapped an `account_link` button; answers the site's URL to open, with
/// `account_linking_token` and `redirect_uri` added.
async fn start_linking(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(tap): JsonBody<ButtonTap>,
) -> HttpResult<Json<LinkingStart>> {
    let url = platform.entry_points.start_account_linking(person, &page, &tap.mid, &tap.button).await?;
    Ok(Json(LinkingStart { url }))
}

/// `POST /person/v1/threads/{page}/account_unlinking` `{"mid","button"}`: the person
/// tapped an `account_unlink` button.
async fn unlink(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path(page): Path<PageRef>, JsonBody(tap): JsonBody<ButtonTap>) -> HttpResult<Json<Success>> {
    platform.entry_points.unlink_by_button(person, &page, &tap.mid, &tap.button).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct LinkingReturn {
    account_linking_token: Option<String>,
    authorization_code: Option<String>,
}

/// `GET /messenger_platform/account_linking/?account_linking_token=T[&authorization_code=C]`:
/// the site sends the person back; they land in the Page's thread, which says how
/// it went (`?account_linking=linked|cancelled|expired`).
async fn linking_return(State(platform): State<Platform>, Query(query): Query<LinkingReturn>) -> HttpResult<Response> {
    let token = query.account_linking_token.ok_or_else(|| Refusal::missing_param("account_linking_token"))?;
    let (page, outcome) = match platform.entry_points.finish_account_linking(&token, query.authorization_code).await? {
        LinkingResult::Linked(page) => (Some(page), "linked"),
        LinkingResult::Cancelled(page) => (Some(page), "cancelled"),
        LinkingResult::Expired(page) => (page, "expired"),
    };
    let thread = match page {
        Some(PageId(id)) => format!("/m/{id}?account_linking={outcome}"),
        None => format!("/?account_linking={outcome}"),
    };
    let mut response = Redirect::to(&thread).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    Ok(response)
}
