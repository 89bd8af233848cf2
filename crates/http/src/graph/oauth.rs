//! Tokens for apps (reference §2.1).

use super::{json, success, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::Refusal;
use switchboard_wire::graph::AccessToken;

/// `GET /oauth/access_token`: `grant_type=client_credentials` answers an app token,
/// `grant_type=fb_exchange_token` a long-lived user token.
pub async fn access_token(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let params = &request.params;
    let client_id = params.required_str("client_id")?;
    let client_secret = params.required_str("client_secret")?;
    match params.str("grant_type")?.as_deref() {
        Some("client_credentials") => {
            let token = platform.directory.app_access_token(&client_id, &client_secret).await?;
            Ok(json(AccessToken { access_token: token, token_type: "bearer", expires_in: None }))
        }
        Some("fb_exchange_token") => {
            let short_lived = params.required_str("fb_exchange_token")?;
            let (token, expires_in) = platform.directory.exchange_token(&client_id, &client_secret, &short_lived).await?;
            Ok(json(AccessToken { access_token: token, token_type: "bearer", expires_in: Some(expires_in) }))
        }
        Some(other) => Err(Refusal::invalid_param(format!("Unsupported grant_type: {other}")).into()),
        None => Err(Refusal::missing_param("grant_type").into()),
    }
}

/// `DELETE /me/permissions` (or `/{app-scoped-user-id}/permissions`) with a user
/// token: the person withdraws the token from the app. It stops working on every
/// node (at once here, through the bus elsewhere, at worst within the cache TTL).
pub async fn deauthorize(platform: &Platform, request: &GraphCall, user: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let token = request.token.as_deref().unwrap_or_default();
    platform.directory.deauthorize(caller, user, token).await?;
    Ok(success())
}
