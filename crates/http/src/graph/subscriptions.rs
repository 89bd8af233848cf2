//! Webhook subscriptions: `/{app-id}/subscriptions` and `/{page-id}/subscribed_apps`.

use super::{json, success, version, GraphCall};
use crate::error::HttpResult;
use switchboard_domain::PageRef;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_wire::graph;

/// `POST /{app-id}/subscriptions` (app token): verifies the callback, then saves it.
pub async fn subscribe(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    // Who asks is checked before what they ask.
    platform.subscriptions.own_app(caller, app)?;
    let p = &request.params;
    let object = p.required_str("object")?;
    let callback_url = p.required_str("callback_url")?;
    let verify_token = p.str("verify_token")?.unwrap_or_default();
    let fields = p.list("fields")?.unwrap_or_default();
    platform.subscriptions.subscribe_app(caller, app, &object, &callback_url, &verify_token, &fields, &version(request)).await?;
    Ok(success())
}

/// `GET /{app-id}/subscriptions` (app token).
pub async fn list(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let data = platform
        .subscriptions
        .app_subscriptions(caller, app)
        .await?
        .into_iter()
        .map(|s| graph::AppSubscription {
            fields: s.fields.iter().map(|f| graph::SubscribedField { name: f.as_str(), version: s.version.clone() }).collect(),
            object: s.object,
            callback_url: s.callback_url,
            active: s.active,
        })
        .collect();
    Ok(json(graph::Data { data }))
}

/// `DELETE /{app-id}/subscriptions[?object=page][&fields=...]` (app token).
pub async fn unsubscribe(platform: &Platform, request: &GraphCall, app: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let object = request.params.str("object")?;
    let fields = request.params.list("fields")?;
    platform.subscriptions.unsubscribe_app(caller, app, object.as_deref(), fields.as_deref()).await?;
    Ok(success())
}

/// `POST /{page-id}/subscribed_apps` (Page token): installs the token's app.
pub async fn install(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let fields = request.params.list("subscribed_fields")?;
    platform.subscriptions.install_app(caller, page, fields.as_deref()).await?;
    Ok(success())
}

/// `GET /{page-id}/subscribed_apps` (Page token).
pub async fn installed(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    // With the app's own token the node is the app: the Pages it is installed on.
    if let (switchboard_app::Caller::App(app), PageRef::Id(id)) = (caller, page) {
        if app.id.as_str() == id.as_str() {
            let data: Vec<_> = platform
                .subscriptions
                .installed_pages(caller, id.as_str())
                .await?
                .into_iter()
                .map(|(page, fields)| serde_json::json!({"id": page.id.0, "name": page.name, "subscribed_fields": fields.iter().map(|f| f.as_str()).collect::<Vec<_>>()}))
                .collect();
            return Ok(json(graph::Data { data }));
        }
    }
    let data = platform
        .subscriptions
        .installed_apps(caller, page)
        .await?
        .into_iter()
        .map(|(app, fields)| graph::InstalledApp {
            category: "Business",
            link: "",
            name: app.name,
            id: app.id.0,
            subscribed_fields: fields.iter().map(|f| f.as_str()).collect(),
        })
        .collect();
    Ok(json(graph::Data { data }))
}

/// `DELETE /{page-id}/subscribed_apps` (Page token): removes the token's app.
pub async fn uninstall(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.subscriptions.uninstall_app(caller, page).await?;
    Ok(success())
}
