//! Webhook subscriptions: `/{app-id}/subscriptions` and `/{page-id}/subscribed_apps`.

use super::{caller, json, success, version};
use crate::error::HttpResult;
use crate::request::GraphRequest;
use axum::response::Response;
use serde_json::json;
use switchboard_app::Platform;

/// `POST /{app-id}/subscriptions` (app token): verifies the callback, then saves it.
pub async fn subscribe(platform: &Platform, request: &GraphRequest, app: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    // Who asks is checked before what they ask.
    platform.own_app(&caller, app)?;
    let p = &request.params;
    let object = p.required_str("object")?;
    let callback_url = p.required_str("callback_url")?;
    let verify_token = p.str("verify_token")?.unwrap_or_default();
    let fields = p.list("fields")?.unwrap_or_default();
    platform.subscribe_app(&caller, app, &object, &callback_url, &verify_token, &fields, &version(request)).await?;
    Ok(success())
}

/// `GET /{app-id}/subscriptions` (app token).
pub async fn list(platform: &Platform, request: &GraphRequest, app: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let data: Vec<_> = platform
        .app_subscriptions(&caller, app)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "object": s.object,
                "callback_url": s.callback_url,
                "active": s.active,
                "fields": s.fields.iter().map(|f| json!({"name": f.as_str(), "version": s.version})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json(json!({ "data": data })))
}

/// `DELETE /{app-id}/subscriptions[?object=page][&fields=...]` (app token).
pub async fn unsubscribe(platform: &Platform, request: &GraphRequest, app: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let object = request.params.str("object")?;
    let fields = request.params.list("fields")?;
    platform.unsubscribe_app(&caller, app, object.as_deref(), fields.as_deref()).await?;
    Ok(success())
}

/// `POST /{page-id}/subscribed_apps` (Page token): installs the token's app.
pub async fn install(platform: &Platform, request: &GraphRequest, page: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let fields = request.params.list("subscribed_fields")?;
    platform.install_app(&caller, page, fields.as_deref()).await?;
    Ok(success())
}

/// `GET /{page-id}/subscribed_apps` (Page token).
pub async fn installed(platform: &Platform, request: &GraphRequest, page: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    let data: Vec<_> = platform
        .installed_apps(&caller, page)
        .await?
        .into_iter()
        .map(|(app, fields)| {
            json!({
                "category": "Business",
                "link": "",
                "name": app.name,
                "id": app.id,
                "subscribed_fields": fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json(json!({ "data": data })))
}

/// `DELETE /{page-id}/subscribed_apps` (Page token): removes the token's app.
pub async fn uninstall(platform: &Platform, request: &GraphRequest, page: &str) -> HttpResult<Response> {
    let caller = caller(platform, request).await?;
    platform.uninstall_app(&caller, page).await?;
    Ok(success())
}
