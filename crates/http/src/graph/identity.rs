//! Who's who for an app (reference §2.4–2.5): test users and their test Pages, and
//! ID matching across one business's Pages and apps.

use super::{json, success, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use serde_json::json;
use switchboard_app::Platform;
use switchboard_wire::graph::{Created, Data};

/// `POST /{app-id}/accounts/test-users` (app token): `installed` (default true),
/// `permissions`, `name`.
pub async fn create_test_user(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let params = &request.params;
    let installed = params.bool("installed")?.unwrap_or(true);
    let permissions = params.list("permissions")?.unwrap_or_default().join(",");
    let name = params.str("name")?;
    Ok(json(platform.consent.create_test_user(caller, app, name.as_deref(), installed, &permissions).await?))
}

/// `GET /{app-id}/accounts/test-users` (app token).
pub async fn test_users(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    Ok(json(Data { data: platform.consent.test_users(caller, app).await? }))
}

/// `POST /{test-user-id}/accounts` with the test user's token: a test Page.
pub async fn create_test_page(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let caller = request.caller()?;
    let name = request.params.required_str("name")?;
    let page = platform.consent.create_test_page(caller, &name).await?;
    Ok(json(Created { id: page.id.0 }))
}

/// `DELETE /{test-user-id}` (app token).
pub async fn delete_test_user(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Option<Response>> {
    let caller = request.caller()?;
    Ok(platform.consent.delete_test_user(caller, id).await?.then(success))
}

/// `GET /{psid-or-asid}/ids_for_pages[?page=]`: the person's PSIDs on the Pages of
/// the caller's business.
pub async fn ids_for_pages(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let page = request.params.str("page")?;
    let data: Vec<_> = platform
        .consent
        .ids_for_pages(caller, id, page.as_deref(), request.proof.is_some())
        .await?
        .into_iter()
        .map(|(page, psid)| json!({"id": psid.0, "page": {"name": page.name, "id": page.id.0}}))
        .collect();
    Ok(json(Data { data }))
}

/// `GET /{psid-or-asid}/ids_for_apps[?app=]`: the person's ASIDs for the apps of
/// the caller's business.
pub async fn ids_for_apps(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let app = request.params.str("app")?;
    let data: Vec<_> = platform
        .consent
        .ids_for_apps(caller, id, app.as_deref(), request.proof.is_some())
        .await?
        .into_iter()
        .map(|(app, asid)| json!({"id": asid.0, "app": {"category": "Business", "link": "", "name": app.name, "namespace": "", "id": app.id.0}}))
        .collect();
    Ok(json(Data { data }))
}
