//! Tokens and permissions (reference §2.1–2.2): the OAuth exchanges, token
//! inspection, and what a person granted an app.

use super::{json, success, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::Refusal;
use switchboard_wire::graph::{AccessToken, Data};

/// `GET /oauth/access_token`: `grant_type=client_credentials` answers an app token,
/// `grant_type=fb_exchange_token` a long-lived user token, and a login dialog's
/// `code` (with the dialog's `redirect_uri`) a short-lived one.
pub async fn access_token(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let params = &request.params;
    let client_id = params.required_str("client_id")?;
    let client_secret = params.required_str("client_secret")?;
    match (params.str("grant_type")?.as_deref(), params.str("code")?) {
        (Some("client_credentials"), _) => {
            let token = platform.directory.app_access_token(&client_id, &client_secret).await?;
            Ok(json(AccessToken { access_token: token, token_type: "bearer", expires_in: None }))
        }
        (Some("fb_exchange_token"), _) => {
            let short_lived = params.required_str("fb_exchange_token")?;
            let (token, expires_in) = platform.directory.exchange_token(&client_id, &client_secret, &short_lived).await?;
            Ok(json(AccessToken { access_token: token, token_type: "bearer", expires_in: Some(expires_in) }))
        }
        (None | Some("authorization_code"), Some(code)) => {
            let redirect_uri = params.required_str("redirect_uri")?;
            let (token, expires_in) = platform.consent.exchange_code(&client_id, &client_secret, &redirect_uri, &code).await?;
            Ok(json(AccessToken { access_token: token, token_type: "bearer", expires_in: Some(expires_in) }))
        }
        (Some(other), _) => Err(Refusal::invalid_param(format!("Unsupported grant_type: {other}")).into()),
        (None, None) => Err(Refusal::missing_param("code").into()),
    }
}

/// `GET /debug_token?input_token=` (app token, or an app developer's user token).
pub async fn debug_token(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let caller = request.caller()?;
    let input = request.params.str("input_token")?;
    Ok(json(serde_json::json!({ "data": platform.consent.debug_token(caller, input.as_deref()).await? })))
}

/// `GET /me/permissions` (user token): granted and declined permissions.
pub async fn permissions(platform: &Platform, request: &GraphCall, user: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    Ok(json(Data { data: platform.consent.permissions(caller, user).await? }))
}

/// `DELETE /me/permissions[/{permission}]` (or `/{app-scoped-user-id}/...`) with a
/// user token: the person takes one permission back, or removes the app. Every
/// token that depended on it changes at once on every node.
pub async fn withdraw(platform: &Platform, request: &GraphCall, user: &str, permission: Option<&str>) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.directory.withdraw(caller, user, permission).await?;
    Ok(success())
}
